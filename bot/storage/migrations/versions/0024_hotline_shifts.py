"""hotline shifts: weekly hours that ring a volunteer by themselves

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hotline_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shifts', sa.JSON(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('hotline_volunteers', schema=None) as batch_op:
        batch_op.drop_column('shifts')
