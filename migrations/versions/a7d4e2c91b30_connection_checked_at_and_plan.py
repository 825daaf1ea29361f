"""connection checked_at and plan: the settings panel's cached live check

Revision ID: a7d4e2c91b30
Revises: a7c4e9d2b318
Create Date: 2026-12-01 03:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d4e2c91b30'
down_revision = 'a7c4e9d2b318'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('plan', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.drop_column('plan')
        batch_op.drop_column('checked_at')
