"""sync run streams (re-applying a changed field mapping)

Revision ID: b5e1f7a3c902
Revises: a7d4e2c91b30
Create Date: 2026-12-01 03:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5e1f7a3c902'
down_revision = 'a7d4e2c91b30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('streams', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_column('streams')
