"""Typed SQLAlchemy 2 models: the tables, and the persisted vocabularies (enums) they store."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Channel(StrEnum):
    """Where a person talks to the bot."""

    TELEGRAM = "telegram"
    SMS = "sms"


class SubscriberStatus(StrEnum):
    """Whether a subscriber may be sent anything but a direct reply."""

    ACTIVE = "active"  # opted in: alerts, reminders and notices go out
    OPTED_OUT = "opted_out"  # said STOP (or Twilio told us they did): silence until START
    BLOCKED = "blocked"  # blocked the bot or is unreachable: nothing can be sent


class ConsentAction(StrEnum):
    """An entry in a subscriber's consent history."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    BLOCKED = "blocked"


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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class SubscriberRow(Base):
    """A person who opted in on one channel: no name, no username, the address encrypted."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("channel", "address_index", name="uq_subscribers_channel_address"),
        Index("ix_subscribers_zone_status", "zone", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # HMAC blind index of the address: equality lookups without storing it in the clear.
    address_index: Mapped[str] = mapped_column(String(64))
    address_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    zone: Mapped[str | None] = mapped_column(String(5))
    topics: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime | None]
    consent_via: Mapped[str | None] = mapped_column(String(32))
    status_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]

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
