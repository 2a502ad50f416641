"""check-ins and drills: an alert may ask its recipients whether they are safe, or be a
drill; their answers; a help request (a report) names the alert it answers; a subscriber may
opt out of drills; the network's monthly drill

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('check_in', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('drill', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('subscribers') as batch:
        batch.add_column(sa.Column('no_drills', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('reports') as batch:
        batch.add_column(sa.Column('help_for', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_reports_help_for_alerts', 'alerts', ['help_for'], ['id'])
    op.create_table(
        'check_ins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), nullable=True),
        sa.Column('answer', sa.String(length=8), nullable=False),
        sa.Column('answered_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('alert_id', 'subscriber_id', name='uq_check_ins_alert_subscriber'),
    )
    op.create_table(
        'monthly_drills',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('minute', sa.Integer(), nullable=False),
        sa.Column('zones', sa.JSON(), nullable=False),
        sa.Column('texts', sa.JSON(), nullable=False),
        sa.Column('check_in', sa.Boolean(), nullable=False),
        sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_month', sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('monthly_drills')
    op.drop_table('check_ins')
    with op.batch_alter_table('reports') as batch:
        batch.drop_constraint('fk_reports_help_for_alerts', type_='foreignkey')
        batch.drop_column('help_for')
    with op.batch_alter_table('subscribers') as batch:
        batch.drop_column('no_drills')
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('drill')
        batch.drop_column('check_in')
