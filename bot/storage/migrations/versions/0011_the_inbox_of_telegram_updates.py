"""the inbox of Telegram updates: each is stored before Telegram is told it arrived, and
handled from there, so a crash or a restart loses none

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    # A new table: plain CREATE TABLE and CREATE INDEX, no batch mode.
    op.create_table(
        'inbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('update_id', sa.BigInteger(), nullable=False),
        sa.Column('body_cipher', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
        sa.UniqueConstraint('update_id', name=op.f('uq_inbox_update_id')),
    )
    op.create_index(
        'ix_inbox_pending', 'inbox', ['id'], unique=False,
        postgresql_where=PENDING, sqlite_where=PENDING,
    )
    op.create_index('ix_inbox_status_updated', 'inbox', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_status_updated', table_name='inbox')
    op.drop_index('ix_inbox_pending', table_name='inbox')
    op.drop_table('inbox')
