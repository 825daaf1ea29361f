"""each installation's local copy version: rendered related lists are served again until it changes

Revision ID: c3d5e7f9a1b2
Revises: b8e2f4a6c913
Create Date: 2026-12-01 08:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d5e7f9a1b2'
down_revision = 'b8e2f4a6c913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('local_copy_version',
                    sa.Column('installation_id', sa.Integer(), nullable=False),
                    sa.Column('version', sa.BigInteger(), nullable=False),
                    sa.ForeignKeyConstraint(['installation_id'], ['installation.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('installation_id'))


def downgrade():
    op.drop_table('local_copy_version')
