"""the Zendesk agent sidebar app installed per installation: its app installation id and public key

Revision ID: a7d3c9e1f5b2
Revises: c3d5e7f9a1b2
Create Date: 2026-12-10 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3c9e1f5b2'
down_revision = 'c3d5e7f9a1b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zendesk_app_installation_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('zendesk_app_public_key', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_installation_zendesk_app_installation_id'),
                              ['zendesk_app_installation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_installation_zendesk_app_installation_id'))
        batch_op.drop_column('zendesk_app_public_key')
        batch_op.drop_column('zendesk_app_installation_id')
