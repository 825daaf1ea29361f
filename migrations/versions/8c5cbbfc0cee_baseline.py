"""baseline

Revision ID: 8c5cbbfc0cee
Revises: 
Create Date: 2026-11-29 04:39:02.431507

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c5cbbfc0cee'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
