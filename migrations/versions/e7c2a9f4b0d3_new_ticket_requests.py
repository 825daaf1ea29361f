"""the "New Zendesk Ticket" form's keys, so a repeated submit answers the ticket already created

Revision ID: e7c2a9f4b0d3
Revises: e6a1c3f5b7d9
Create Date: 2026-12-08 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7c2a9f4b0d3'
down_revision = 'e6a1c3f5b7d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'new_ticket_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('installation_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('entity', sa.String(length=16), nullable=False),
        sa.Column('record_id', sa.String(length=32), nullable=False),
        sa.Column('zendesk_ticket_id', sa.BigInteger(), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['installation_id'], ['installation.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('installation_id', 'key'),
    )
    with op.batch_alter_table('new_ticket_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_new_ticket_request_installation_id'), ['installation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('new_ticket_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_new_ticket_request_installation_id'))
    op.drop_table('new_ticket_request')
