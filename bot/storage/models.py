"""Typed SQLAlchemy 2 models: the tables. The values they store are `bot.core.vocabulary`'s.

Why one module over 500 lines: the schema is one thing, compared as a whole with the
migrations (tests/test_storage.py) and read as a whole in the README's data map; split, its
foreign keys and the place names sealed values are bound to (`place`) would cross files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    mapped_column,
    relationship,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError("UTCDateTime column returned a non-datetime")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def place(column: InstrumentedAttribute[Any], row: object) -> str:
    """Where a sealed value lives (table, column, row): what it is bound to (crypto.Vault)."""
    return f"{column.class_.__tablename__}.{column.key}#{row}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class SubscriberRow(Base):
    """A person who opted in on one channel: no name, no username, the address encrypted."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("channel", "address_index", name="uq_subscribers_channel_address"),
        # A zone's next chunk of recipients by id (alerts are queued a chunk at a time).
        Index("ix_subscribers_zone_status_id", "zone", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # HMAC blind index of the address: equality lookups without storing it in the clear.
    address_index: Mapped[str] = mapped_column(String(64))
    # Dropped OPTOUT_RETENTION_DAYS after a STOP or a block (the index stays, so the opt-out
    # holds), and written again if they come back.
    address_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    zone: Mapped[str | None] = mapped_column(String(5))
    topics: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime | None]
    consent_via: Mapped[str | None] = mapped_column(String(32))
    status_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # SMS: the provider blocks this number (it texted one of Twilio's opt-out keywords and no
    # opt-in keyword since), so nothing the bot sends can reach it, replies included.
    provider_blocked: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Said DRILLS OFF: drills (alerts.drill) are not queued to them.
    no_drills: Mapped[bool] = mapped_column(default=False, server_default=false())

    consents: Mapped[list[ConsentRow]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class ConsentRow(Base):
    """One opt-in, opt-out or block, with when and how: the carriers' proof of consent."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]

    subscriber: Mapped[SubscriberRow] = relationship(back_populates="consents")


class CoordinatorRow(Base):
    """Network staff or a trained volunteer, known by their Telegram user id (encrypted)."""

    __tablename__ = "coordinators"
    __table_args__ = (UniqueConstraint("telegram_index", name="uq_coordinators_telegram"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_index: Mapped[str] = mapped_column(String(64))
    telegram_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    # A label the admin chooses ("Rosa, Pilsen team"); never taken from Telegram.
    label: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool]
    on_duty: Mapped[bool]
    # ZIP codes they cover while on duty; empty means every zone.
    duty_zones: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    # The language of their screens (their /language); None: their Telegram app's.
    language: Mapped[str | None] = mapped_column(String(8))


class HotlineVolunteerRow(Base):
    """Someone the hotline rings when a caller asks for a volunteer: their phone (encrypted,
    never shown or logged), a label, and whether they are on duty now."""

    __tablename__ = "hotline_volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    phone_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    on_duty: Mapped[bool]
    # A coordinator who registered their own phone in Telegram (/hotline); None: the CLI's.
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    added_at: Mapped[datetime]
    # Weekly shifts that ring them whatever on_duty says: [weekday (0 Monday), first minute,
    # minute after the last] in the network's time zone; an end before the start runs past
    # midnight.
    shifts: Mapped[list[list[int]]] = mapped_column(JSON, default=list, server_default="[]")


class CallCountRow(Base):
    """What the hotline's calls did, as counts only: per week, language and event (a call,
    a menu choice, answered by a volunteer or forwarded). No number, no time of a call."""

    __tablename__ = "call_counts"

    week: Mapped[date] = mapped_column(primary_key=True)  # Monday, in the network's time zone
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int]


class VerifyCountRow(Base):
    """How many people asked VERIFY about a zone, per hour: counts only, no one's identity
    (what a report card shows as interest in its zone, and `rrbot stats`)."""

    __tablename__ = "verify_counts"

    zone: Mapped[str] = mapped_column(String(8), primary_key=True)  # a ZIP code, or "-"
    hour: Mapped[datetime] = mapped_column(primary_key=True)  # its start, UTC
    count: Mapped[int]


class VerifyLimitRow(Base):
    """How often one sender asked VERIFY in the current hour, by blind index only: what the
    per-sender limit reads. Rows of past hours are deleted by upkeep."""

    __tablename__ = "verify_limits"

    asker_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[datetime]
    count: Mapped[int]


class FlowRow(Base):
    """A coordinator's one active flow (composing an alert, setting up a workshop, relaying a
    question): its step and what it has gathered, encrypted, so a restart loses nothing."""

    __tablename__ = "flows"

    # One active flow per coordinator: starting another replaces this row.
    coordinator_id: Mapped[int] = mapped_column(
        ForeignKey("coordinators.id", ondelete="CASCADE"), primary_key=True
    )
    # Drawn at random when the flow starts; its buttons carry it, so a button of an ended
    # flow, or of another coordinator's, matches no active flow.
    token: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(24))
    data_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class InviteRow(Base):
    """A one-time code an admin hands to a new coordinator; only its HMAC is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_index: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))


class SignOffRow(Base):
    """One coordinator's request that a second one must agree to (bot.core.signoffs): what,
    about which row, who asked, and who decided. Granting does it in the same transaction."""

    __tablename__ = "sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[int]  # the workshop or coordinator it is about; 0 for a new admin's invite
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    decided_at: Mapped[datetime | None]


class AuditRow(Base):
    """One privileged action: who, what, when. Never a subscriber's number or chat id."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # A coordinator's id, or None for the server operator (the rrbot CLI).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlertRow(Base):
    """A message from the network to subscribers of some zones, in their languages."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    refers_to: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    # ZIP codes, or ["all"] for the whole area.
    zones: Mapped[list[str]] = mapped_column(JSON)
    # Text by language code; a language without one falls back to English.
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    # By SMS, where it differs: without accents (bot.core.alerts.Alerts.render_sms).
    sms_texts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    approved_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(default=0)
    # When the composer was told how it went (once every delivery had ended).
    summarized_at: Mapped[datetime | None]
    # The coordinator who confirmed the report(s) it came from (reports.alert_id links them).
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    # Queuing a large alert goes on in committed chunks after its approval: the zone (an
    # index into `zones`, 0 for "all") being queued and the last subscriber id queued in it.
    # NULL once everyone is queued (or a correction stopped it).
    enqueue_phase: Mapped[int | None]
    enqueue_after: Mapped[int] = mapped_column(default=0, server_default="0")
    # When its deliveries lost their link to the people they reached (DELIVERY_RETENTION_DAYS).
    purged_at: Mapped[datetime | None]
    # Its text ends by asking "reply 1 if you are safe, 2 if you need help" (check_ins).
    check_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A rehearsal: every text begins with the drill line; DRILLS OFF subscribers skip it, and
    # VERIFY never names it.
    drill: Mapped[bool] = mapped_column(default=False, server_default=false())


class MonthlyDrillRow(Base):
    """The network's monthly drill (one row at most): on `day` of each month at `minute`
    (network time) the upkeep sends it as a drill, once a month (`last_month`, "2026-12")."""

    __tablename__ = "monthly_drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[int]  # 1 to 28: every month has it
    minute: Mapped[int]  # of the day, 0 to 1439
    zones: Mapped[list[str]] = mapped_column(JSON)
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    check_in: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_month: Mapped[str | None] = mapped_column(String(7))


class CheckInRow(Base):
    """A recipient's answer to an alert's check-in: 1 safe, 2 needs help (which also opens a
    help request, a report with `help_for`). The link to the subscriber goes with the alert's
    deliveries (DELIVERY_RETENTION_DAYS); the answer stays for the counts."""

    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscriber_id", name="uq_check_ins_alert_subscriber"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    answer: Mapped[str] = mapped_column(String(8))  # CheckInAnswer
    answered_at: Mapped[datetime]


NOTICE_KEPT = "alert_id IS NULL AND body_cipher IS NOT NULL"
UNFINISHED_SMS = "channel = 'sms' AND status = 'sent' AND provider_id IS NOT NULL"


class DeliveryRow(Base):
    """The outbox: one row per (message, recipient), so nothing is lost or sent twice.

    A row is either an alert to a subscriber (alert_id, subscriber_id), or a notice: a
    message to one person that is not a broadcast (a report card to a coordinator, a report's
    outcome to the reporter, a reminder), with its own encrypted body and, when the person is
    not a subscriber, its own encrypted address.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscriber_id", name="uq_deliveries_alert_subscriber"),
        # Only rows still to send: after a 100,000-recipient broadcast the finished rows
        # would otherwise make every idle claim walk their index entries.
        Index(
            "ix_deliveries_pending",
            "channel",
            "priority",
            "id",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        # Is anything of this alert still to send? One probe, where the unique index above
        # made every check walk the alert's finished rows (idle workers check several times
        # a second: 5-10% of a worker's time near the end of a 10,000 broadcast).
        Index(
            "ix_deliveries_pending_alert",
            "alert_id",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_deliveries_provider_id", "provider_id"),
        # SMS Twilio accepted and never reported final: deleted there after a day.
        Index(
            "ix_deliveries_sms_unfinished",
            "sent_at",
            postgresql_where=text(UNFINISHED_SMS),
            sqlite_where=text(UNFINISHED_SMS),
        ),
        # Notices still holding a body: what the retention purge looks through.
        Index(
            "ix_deliveries_notices_kept",
            "updated_at",
            postgresql_where=text(NOTICE_KEPT),
            sqlite_where=text(NOTICE_KEPT),
        ),
        # A coordinator's notices still to send, dropped when they are removed.
        Index(
            "ix_deliveries_coordinator_pending",
            "coordinator_id",
            postgresql_where=text("coordinator_id IS NOT NULL AND status IN ('queued', 'sending')"),
            sqlite_where=text("coordinator_id IS NOT NULL AND status IN ('queued', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    # A notice's own recipient (when not a subscriber), body ({"text", "buttons"}) and expiry,
    # encrypted; `ref` names what it is about ("report:12"), for edits and purges.
    address_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    ref: Mapped[str | None] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime | None]
    # A notice to a coordinator: whom (so that removing them drops what is still queued).
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    # Lower goes first: replies and notices ahead of bulk.
    priority: Mapped[int] = mapped_column(default=10)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DeletionRow(Base):
    """A message to delete at Twilio, which keeps From, To and Body of every message: written
    in the transaction that handled or recorded it, so a crash loses none, and removed once
    Twilio has deleted it. One given up on (`failed_at`) stays, for the operator to see."""

    __tablename__ = "provider_deletions"
    __table_args__ = (Index("ix_provider_deletions_due", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(64))
    failed_at: Mapped[datetime | None]


class InboundMessageRow(Base):
    """An inbound message's provider id (Twilio's MessageSid), once handled: a signed request
    sent again (a replay) changes nothing. Kept REPLAY_DAYS; the id names no person."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_received", "received_at"),)

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]


class RateBucketRow(Base):
    """A token bucket shared by every worker process (PostgreSQL is their only coordination)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[datetime]
    # The process that booked last (a random token, not a host name), and until when (epoch
    # seconds) another one has booked too: a worker alone may send a late slot late.
    booker: Mapped[str | None] = mapped_column(String(32))
    shared_until: Mapped[float | None]


class ReportRow(Base):
    """A report of enforcement activity. What identifies the reporter or the place is
    encrypted and purged after REPORT_RETENTION_DAYS; status, zone and times stay for counts."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    zone: Mapped[str | None] = mapped_column(String(5))
    # The reporter: blind index (rate limit, blocks) and encrypted address (receipt, outcome,
    # relayed questions). Never shown to a coordinator; purged with the text.
    reporter_index: Mapped[str | None] = mapped_column(String(64), index=True)
    reporter_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    wants_outcome: Mapped[bool] = mapped_column(default=False)
    # The SALUTE answers as encrypted JSON; the photo as the provider's file id, encrypted.
    details_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    photo_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The guided step a draft is at, or what the bot awaits from the reporter by reply
    # ("location", "answer"), until `awaiting_until`.
    step: Mapped[str | None] = mapped_column(String(16))
    awaiting_until: Mapped[datetime | None]
    # Who asked the open question (a coordinator id): the answer goes back to them.
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    decided_at: Mapped[datetime | None]
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    # How far a report nobody claimed has been escalated: 1 every coordinator, 2 the
    # admins, 3 the hotline volunteers on duty (REPORT_ESCALATE_MINUTES apart).
    escalated: Mapped[int] = mapped_column(default=0, server_default="0")
    # A help request: the check-in of this alert was answered "2" (need help).
    help_for: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", name="fk_reports_help_for_alerts")
    )


class ReportBlockRow(Base):
    """A sender a coordinator blocked from reporting: the blind index only."""

    __tablename__ = "report_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_index: Mapped[str] = mapped_column(String(64), unique=True)
    blocked_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime]


class WorkshopRow(Base):
    """A know-your-rights session. Times are UTC; shown in the network's TIMEZONE."""

    __tablename__ = "workshops"
    __table_args__ = (Index("ix_workshops_starts", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Title and description by language; a language without one falls back to English.
    titles: Mapped[dict[str, str]] = mapped_column(JSON)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime]
    minutes: Mapped[int]
    place: Mapped[str] = mapped_column(String(200))  # an address or an online link
    languages: Mapped[list[str]] = mapped_column(JSON)  # given in
    zones: Mapped[list[str]] = mapped_column(JSON)  # serves; ["all"] for the whole area
    capacity: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(16))
    series: Mapped[str | None] = mapped_column(String(64))  # a recurring series' name
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime]


class RsvpRow(Base):
    """A subscriber said they are coming (or, later, that they are not)."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("workshop_id", "subscriber_id", name="uq_rsvps_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    going: Mapped[bool]
    updated_at: Mapped[datetime]


class InboxRow(Base):
    """An update as Telegram sent it (encrypted), stored before Telegram is told it arrived and
    kept until it is handled (then deleted within the hour), or set aside when it cannot be."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index(
            "ix_inbox_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_inbox_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Telegram's own id: a repeat (a webhook call retried, a batch fetched again) is stored once.
    update_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    # The update's JSON: message texts, names and chat ids, hence encrypted.
    body_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    # Handlings that failed; at the third it is set aside.
    attempts: Mapped[int] = mapped_column(default=0)
    # Held by the process handling it until then; after that any process may take it again.
    lease_until: Mapped[datetime | None]
    # The type of what went wrong last (an exception's class name), never a message.
    error: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReceiptRow(Base):
    """A provider's status report that came before the send's outcome was written (it names
    a message id no delivery holds yet): kept until the outcome lands, then applied to it."""

    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_provider_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]


class RetiredIndexKeyRow(Base):
    """The index root of a key a rotation retired (`rrbot keys rotate`), sealed under the
    current key: indexes that cannot be made again (a blocked sender, an opted-out number no
    longer kept) are still recognised once that key has left DATA_KEY."""

    __tablename__ = "retired_index_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # An HMAC of the root (never the root): one row per key, however often rotate runs.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    root_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    retired_at: Mapped[datetime]


class KeyCheckRow(Base):
    """A known value encrypted under DATA_KEY when the database was first opened (one row)."""

    __tablename__ = "key_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    cipher: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
