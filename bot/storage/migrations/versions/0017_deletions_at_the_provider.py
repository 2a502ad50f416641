"""deletions at the provider: every message Twilio keeps (From, To, Body) is deleted there
once handled or final, through this table, so that a crash loses none

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_SMS = sa.text("channel = 'sms' AND status = 'sent' AND provider_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        'provider_deletions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('failed_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_deletions')),
        sa.UniqueConstraint('sid', name=op.f('uq_provider_deletions_sid')),
    )
    with op.batch_alter_table('provider_deletions', schema=None) as batch_op:
        batch_op.create_index('ix_provider_deletions_due', ['due_at'], unique=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_sms_unfinished', ['sent_at'], unique=False, postgresql_where=UNFINISHED_SMS, sqlite_where=UNFINISHED_SMS)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_sms_unfinished', postgresql_where=UNFINISHED_SMS, sqlite_where=UNFINISHED_SMS)
    with op.batch_alter_table('provider_deletions', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_deletions_due')
    op.drop_table('provider_deletions')
