"""sign-offs (what one coordinator asks and a second must agree to), and whose notice a
delivery is, so that removing a coordinator drops the notices still queued to them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_TO_COORDINATOR = sa.text("coordinator_id IS NOT NULL AND status IN ('queued', 'sending')")


def upgrade() -> None:
    op.create_table(
        'sign_offs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.Integer(), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=False),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['decided_by'], ['coordinators.id'], name=op.f('fk_sign_offs_decided_by_coordinators')),
        sa.ForeignKeyConstraint(['requested_by'], ['coordinators.id'], name=op.f('fk_sign_offs_requested_by_coordinators')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_offs')),
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coordinator_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_coordinator_id_coordinators'), 'coordinators', ['coordinator_id'], ['id'])
        batch_op.create_index('ix_deliveries_coordinator_pending', ['coordinator_id'], unique=False, postgresql_where=PENDING_TO_COORDINATOR, sqlite_where=PENDING_TO_COORDINATOR)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_coordinator_pending', postgresql_where=PENDING_TO_COORDINATOR, sqlite_where=PENDING_TO_COORDINATOR)
        batch_op.drop_constraint(batch_op.f('fk_deliveries_coordinator_id_coordinators'), type_='foreignkey')
        batch_op.drop_column('coordinator_id')
    op.drop_table('sign_offs')
