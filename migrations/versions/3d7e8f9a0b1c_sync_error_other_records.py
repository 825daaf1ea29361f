"""sync error: the Zendesk object and the other CRM record in the way

Revision ID: 3d7e8f9a0b1c
Revises: 9b1f3c2d4e5a
Create Date: 2026-12-02 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3d7e8f9a0b1c'
down_revision = '9b1f3c2d4e5a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zendesk_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('other_crm_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.drop_column('other_crm_id')
        batch_op.drop_column('zendesk_id')
