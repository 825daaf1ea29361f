"""a record's tickets found by index: each lookup, the requester and the organization with the installation

Revision ID: b8e2f4a6c913
Revises: b8e2d4f6a1c3
Create Date: 2026-12-01 07:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e2f4a6c913'
down_revision = 'b8e2d4f6a1c3'
branch_labels = None
depends_on = None

COLUMNS = (('contact', 'crm_contact_id'), ('lead', 'crm_lead_id'), ('account', 'crm_account_id'),
           ('deal', 'crm_deal_id'), ('requester', 'requester_id'), ('organization', 'organization_id'))
SINGLE = ('crm_contact_id', 'crm_lead_id', 'crm_account_id', 'crm_deal_id', 'organization_id')


def upgrade():
    # NB: with one index on installation_id and others on each column alone, SQLite read every ticket of
    # the installation for one record's list (README "Benchmarks").
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        for column in SINGLE:
            batch_op.drop_index(f'ix_ticket_{column}')
        for name, column in COLUMNS:
            batch_op.create_index(f'ix_ticket_{name}', ['installation_id', column], unique=False)


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        for name, _ in COLUMNS:
            batch_op.drop_index(f'ix_ticket_{name}')
        for column in SINGLE:
            batch_op.create_index(f'ix_ticket_{column}', [column], unique=False)
