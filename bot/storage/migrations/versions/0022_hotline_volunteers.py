"""hotline volunteers: the phones the hotline rings when a caller asks for a volunteer

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'hotline_volunteers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=64), nullable=False),
        sa.Column('phone_cipher', sa.LargeBinary(), nullable=False),
        sa.Column('on_duty', sa.Boolean(), nullable=False),
        sa.Column('coordinator_id', sa.Integer(), nullable=True),
        sa.Column('added_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['coordinator_id'], ['coordinators.id'],
            name=op.f('fk_hotline_volunteers_coordinator_id_coordinators'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_volunteers')),
    )


def downgrade() -> None:
    op.drop_table('hotline_volunteers')
