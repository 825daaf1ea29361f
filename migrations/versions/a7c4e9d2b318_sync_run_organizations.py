"""sync run organizations (backfills of organizations added to a Selective sync)

Revision ID: a7c4e9d2b318
Revises: 3d7e8f9a0b1c
Create Date: 2026-12-01 03:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c4e9d2b318'
down_revision = '3d7e8f9a0b1c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organizations', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_column('organizations')
