"""sync error: the ticket a comment waits for, a column of its own (was read from the message)

Revision ID: 724ea00cd9e0
Revises: a7d3c9e1f5b2
Create Date: 2026-12-12 09:00:00.000000

"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '724ea00cd9e0'
down_revision = 'a7d3c9e1f5b2'
branch_labels = None
depends_on = None

sync_error = sa.table('sync_error', sa.column('id', sa.Integer), sa.column('stream', sa.String),
                      sa.column('message', sa.String), sa.column('waiting_for_ticket', sa.BigInteger))
# How a waiting comment's message began until now: "Waiting for ticket 123, which is not in the CRM yet ...".
WAITING_MESSAGE = re.compile(r"Waiting for ticket (\d+),")


def upgrade():
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_for_ticket', sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(sync_error.c.id, sync_error.c.message).where(
        sync_error.c.stream == 'zendesk_comments', sync_error.c.message.startswith('Waiting for ticket '))).all()
    for row in rows:
        found = WAITING_MESSAGE.match(row.message)
        if found:
            bind.execute(sync_error.update().where(sync_error.c.id == row.id)
                         .values(waiting_for_ticket=int(found.group(1))))


def downgrade():
    with op.batch_alter_table('sync_error', schema=None) as batch_op:
        batch_op.drop_column('waiting_for_ticket')
