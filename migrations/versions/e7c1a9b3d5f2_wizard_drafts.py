"""what an admin entered in a wizard step and left unsaved

Revision ID: e7c1a9b3d5f2
Revises: d4b8f0a2c6e1
Create Date: 2026-12-01 05:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7c1a9b3d5f2'
down_revision = 'd4b8f0a2c6e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'wizard_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('installation_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.String(length=64), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['installation_id'], ['installation.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('installation_id', 'user_id', 'step'),
    )
    op.create_index('ix_wizard_draft_installation_id', 'wizard_draft', ['installation_id'], unique=False)


def downgrade():
    op.drop_index('ix_wizard_draft_installation_id', table_name='wizard_draft')
    op.drop_table('wizard_draft')
