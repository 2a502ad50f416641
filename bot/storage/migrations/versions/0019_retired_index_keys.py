"""retired index keys: the index root of each key a rotation retired, sealed under the current
key, so a blocked sender or an opted-out number is still recognised after the old key is gone

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'retired_index_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('root_cipher', sa.LargeBinary(), nullable=False),
        sa.Column('retired_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retired_index_keys')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_retired_index_keys_fingerprint')),
    )


def downgrade() -> None:
    op.drop_table('retired_index_keys')
