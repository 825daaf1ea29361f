"""the Zendesk plan's requests a minute, as last told (the dashboard's API use)

Revision ID: c3a9d8e6f214
Revises: b5e1f7a3c902
Create Date: 2026-12-01 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9d8e6f214'
down_revision = 'b5e1f7a3c902'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zendesk_rate_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('zendesk_rate_remaining', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('zendesk_rate_seen_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_column('zendesk_rate_seen_at')
        batch_op.drop_column('zendesk_rate_remaining')
        batch_op.drop_column('zendesk_rate_limit')
