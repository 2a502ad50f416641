"""receipts that come first: a status callback that names a message before its send's
outcome is written is kept and applied when the outcome lands

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    )
    op.create_index('ix_receipts_provider_id', 'receipts', ['provider_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_receipts_provider_id', table_name='receipts')
    op.drop_table('receipts')
