"""a key check: a value encrypted under DATA_KEY when the database is first opened, so that a
process started with another key refuses to start instead of failing every decryption

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'key_checks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cipher', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_checks')),
    )


def downgrade() -> None:
    op.drop_table('key_checks')
