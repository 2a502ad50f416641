"""alerts queued in chunks: a large alert's deliveries are written in committed chunks after
its approval, from a cursor on the alert, so the first sends go out at once and a crash
mid-way resumes where it stopped

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: batch mode would rebuild `alerts` (see env.py).
    op.add_column('alerts', sa.Column('enqueue_phase', sa.Integer(), nullable=True))
    op.add_column(
        'alerts', sa.Column('enqueue_after', sa.Integer(), server_default='0', nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('enqueue_after')
        batch_op.drop_column('enqueue_phase')
