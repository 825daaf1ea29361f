"""a CRM Deal's Account, remembered for the Deal page's ticket list

Revision ID: e6a1c3f5b7d9
Revises: e7c1a9b3d5f2
Create Date: 2026-12-02 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6a1c3f5b7d9'
down_revision = 'e7c1a9b3d5f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deal_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_after', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('installation_id', 'deal_id')
    )
    with op.batch_alter_table('deal_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_account_installation_id'), ['installation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('deal_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_account_installation_id'))
    op.drop_table('deal_account')
