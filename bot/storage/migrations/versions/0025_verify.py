"""verify: counts of VERIFY questions per zone and hour, and the per-sender limit

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'verify_counts',
        sa.Column('zone', sa.String(length=8), nullable=False),
        sa.Column('hour', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('zone', 'hour', name=op.f('pk_verify_counts')),
    )
    op.create_table(
        'verify_limits',
        sa.Column('asker_index', sa.String(length=64), nullable=False),
        sa.Column('since', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('asker_index', name=op.f('pk_verify_limits')),
    )


def downgrade() -> None:
    op.drop_table('verify_limits')
    op.drop_table('verify_counts')
