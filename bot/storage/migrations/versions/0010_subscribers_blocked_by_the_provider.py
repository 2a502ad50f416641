"""subscribers blocked by the provider: a number that texted one of Twilio's opt-out keywords
stays unreachable until it texts an opt-in keyword, whatever else it sends

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Twilio's opt-out keywords as the consent record spells them (a copy: migrations stay as
# they were written, whatever the code later says).
TWILIO_OPT_OUT = ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT')

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, never batch mode: on SQLite batch mode may copy the table, and with
    # foreign keys on, dropping the old copy would cascade to every consent record.
    op.add_column(
        'subscribers',
        sa.Column('provider_blocked', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # Numbers that opted out with one of Twilio's keywords are blocked at Twilio today: say so,
    # or their next JOIN would count them as subscribers who can receive nothing.
    words = ", ".join(f"'sms:{word}'" for word in TWILIO_OPT_OUT)
    op.execute(
        "UPDATE subscribers SET provider_blocked = TRUE "
        "WHERE channel = 'sms' AND status = 'opted_out' AND EXISTS ("
        " SELECT 1 FROM consents WHERE consents.subscriber_id = subscribers.id"
        f" AND consents.action = 'opt_out' AND consents.via IN ({words})"
        " AND consents.at = subscribers.status_changed_at)"
    )


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('provider_blocked')
