"""stored messages keep their message id and values, to be shown in the reader's language

Revision ID: d4b8f0a2c6e1
Revises: c3a9d8e6f214
Create Date: 2026-12-01 05:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4b8f0a2c6e1'
down_revision = 'c3a9d8e6f214'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_notice', sa.JSON(), nullable=True))
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_notice', sa.JSON(), nullable=True))
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_notice', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.drop_column('message_notice')
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_column('message_notice')
    with op.batch_alter_table('sync_settings', schema=None) as batch_op:
        batch_op.drop_column('paused_notice')
