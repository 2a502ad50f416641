"""rate bucket bookers: who booked last, and until when the bucket counts as shared

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('rate_buckets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booker', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('shared_until', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rate_buckets', schema=None) as batch_op:
        batch_op.drop_column('shared_until')
        batch_op.drop_column('booker')
