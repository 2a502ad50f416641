"""coordinator flows and languages: a coordinator's active flow survives a restart, and
their screens follow their language

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
    op.create_table(
        'flows',
        sa.Column('coordinator_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('step', sa.String(length=24), nullable=False),
        sa.Column('data_cipher', sa.LargeBinary(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['coordinator_id'], ['coordinators.id'],
            name=op.f('fk_flows_coordinator_id_coordinators'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('coordinator_id', name=op.f('pk_flows')),
    )


def downgrade() -> None:
    op.drop_table('flows')
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.drop_column('language')
