"""retention for everything: a STOPped number's cipher can be dropped (its index stays), an
alert remembers when its deliveries lost their link to people, and old notices are found by
an index

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTICE_KEPT = sa.text("alert_id IS NULL AND body_cipher IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.alter_column('address_cipher', existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_notices_kept', ['updated_at'], unique=False, postgresql_where=NOTICE_KEPT, sqlite_where=NOTICE_KEPT)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_notices_kept', postgresql_where=NOTICE_KEPT, sqlite_where=NOTICE_KEPT)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.alter_column('address_cipher', existing_type=sa.LargeBinary(), nullable=False)
