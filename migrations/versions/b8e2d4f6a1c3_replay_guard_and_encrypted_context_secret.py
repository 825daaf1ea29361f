"""signed marketplace calls remembered (replays refused); context secrets encrypted at rest

Revision ID: b8e2d4f6a1c3
Revises: e7c2a9f4b0d3
Create Date: 2026-12-02 09:00:00.000000

"""
import json

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'b8e2d4f6a1c3'
down_revision = 'e7c2a9f4b0d3'
branch_labels = None
depends_on = None

installation = sa.table('installation', sa.column('id', sa.Integer), sa.column('context_secret', sa.String),
                        sa.column('context_secret_ciphertext', sa.Text))


def _fernet():
    # The key the app encrypts tokens with (widget/crypto.py: Fernet over the JSON of the value).
    return Fernet(current_app.config['TOKEN_ENCRYPTION_KEY'].encode())


def upgrade():
    op.create_table(
        'used_signature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('signature', sa.String(length=80), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('signature'),
    )
    op.create_index('ix_used_signature_expires_at', 'used_signature', ['expires_at'], unique=False)

    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context_secret_ciphertext', sa.Text(), nullable=True))
    bind, fernet = op.get_bind(), _fernet()
    for row in bind.execute(sa.select(installation.c.id, installation.c.context_secret)).all():
        ciphertext = fernet.encrypt(json.dumps(row.context_secret).encode()).decode()
        bind.execute(installation.update().where(installation.c.id == row.id)
                     .values(context_secret_ciphertext=ciphertext))
    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.alter_column('context_secret_ciphertext', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('context_secret')


def downgrade():
    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context_secret', sa.String(length=64), nullable=True))
    bind, fernet = op.get_bind(), _fernet()
    for row in bind.execute(sa.select(installation.c.id, installation.c.context_secret_ciphertext)).all():
        secret = json.loads(fernet.decrypt(row.context_secret_ciphertext.encode()))
        bind.execute(installation.update().where(installation.c.id == row.id).values(context_secret=secret))
    with op.batch_alter_table('installation', schema=None) as batch_op:
        batch_op.alter_column('context_secret', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('context_secret_ciphertext')

    op.drop_index('ix_used_signature_expires_at', table_name='used_signature')
    op.drop_table('used_signature')
