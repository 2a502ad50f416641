"""The domain's vocabulary: every state and kind the bot stores, compares or shows.

One module with no imports of the project, so storage (which persists these values),
settings (which reads ApprovalMode), core and the channels all speak the same words.
"""

from __future__ import annotations

from enum import StrEnum


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


class Role(StrEnum):
    """What a coordinator may do."""

    ADMIN = "admin"  # also adds and removes coordinators
    COORDINATOR = "coordinator"  # drafts, approves and sends alerts


class ApprovalMode(StrEnum):
    """Whether an alert needs a second coordinator's approval before it goes out."""

    AUTO = "auto"  # on once there are two active coordinators
    ON = "on"
    OFF = "off"


class SignOffAction(StrEnum):
    """What one coordinator may do only once a second one agrees (the operator's CLI needs
    nobody): announcing to subscribers, and changing who runs the network."""

    ANNOUNCE = "workshop.announce"  # a workshop announcement to its zones (when approval is on)
    REMOVE = "coordinator.remove"  # a second admin agrees
    ADMIN = "coordinator.admin"  # an invite that makes an admin: a second admin agrees


class SignOffStatus(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"  # done, in the same transaction as the grant
    DENIED = "denied"


class AlertKind(StrEnum):
    """The Common Alerting Protocol's message types, as a network uses them."""

    ALERT = "alert"  # a verified sighting: what, where, when, what to do
    UPDATE = "update"  # news on an alert, to the people it reached
    CORRECTION = "correction"  # an alert was wrong: cancels what is unsent, tells who got it
    ALL_CLEAR = "all_clear"  # the activity is over
    RUMOR = "rumor"  # rumor control: a post going round is not confirmed, or is false

    @property
    def follows_up(self) -> bool:
        """Sent to the people an earlier alert reached (it refers to it), not to zones."""
        return self in (AlertKind.UPDATE, AlertKind.CORRECTION, AlertKind.ALL_CLEAR)


class AlertStatus(StrEnum):
    """Where an alert is between a coordinator's draft and the last delivery."""

    DRAFT = "draft"  # being composed
    PENDING = "pending"  # waiting for a second coordinator's approval
    REJECTED = "rejected"  # the second coordinator said no
    QUEUED = "queued"  # approved: deliveries are in the outbox
    DONE = "done"  # no delivery is waiting any more


class DeliveryStatus(StrEnum):
    """One message to one subscriber, from queued to its outcome."""

    QUEUED = "queued"  # waiting for a worker (or for its retry time)
    SENDING = "sending"  # claimed by a worker until lease_until; reclaimed if it dies
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider confirmed delivery (SMS status callback)
    FAILED = "failed"  # permanent error, or retries exhausted
    SKIPPED = "skipped"  # not sent on purpose: expired, cancelled, or the person opted out


class ReportStatus(StrEnum):
    """Where a community report is between "I saw something" and an outcome."""

    DRAFT = "draft"  # the reporter is still answering the guided questions (Telegram)
    NEW = "new"  # waiting for a coordinator
    VERIFYING = "verifying"  # a coordinator claimed it
    CONFIRMED = "confirmed"  # verified: an alert draft was opened from it
    NOT_CONFIRMED = "not_confirmed"  # could not be verified
    FALSE_ALARM = "false_alarm"  # not enforcement activity
    DUPLICATE = "duplicate"  # of another report (duplicate_of)
    EXPIRED = "expired"  # no coordinator acted in time
    RESOLVED = "resolved"  # a help request a volunteer has dealt with


class CheckInAnswer(StrEnum):
    """A recipient's answer to an alert's check-in."""

    SAFE = "safe"  # replied 1
    HELP = "help"  # replied 2: a help request goes to the coordinators


class WorkshopState(StrEnum):
    """A know-your-rights workshop's state."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    MOVED = "moved"  # still happening, at a new time or place (its RSVPs were told)


class FlowKind(StrEnum):
    """What a coordinator's active flow is doing (one at a time, kept in the database)."""

    ALERT = "alert"  # composing an alert, up to its preview and send
    WORKSHOP = "workshop"  # setting up a workshop, up to scheduling it
    RELAY = "relay"  # typing the one question relayed to a report's sender


class ReportRefusal(StrEnum):
    """Why a report was not taken from its sender."""

    LIMIT = "limit"  # too many reports from this sender in the last hour
    BLOCKED = "blocked"  # a coordinator blocked the sender


class ReplyTaken(StrEnum):
    """What a reporter's message was taken as, by the report that awaited it."""

    LOCATION = "location"  # the place an SMS report lacked
    ANSWER = "answer"  # the answer to a coordinator's relayed question
    OUTCOME = "outcome"  # YES: they want to hear the outcome
    OTHER = "other"  # none of these: the menu answers it


class OutsideArea(StrEnum):
    """What JOIN with a real ZIP code outside the network's area does (config/zones.yaml)."""

    REFUSE = "refuse"  # nothing is stored; they are told the area
    NETWORK_WIDE = "network_wide"  # signed up for network-wide alerts only, and told so


class InboxStatus(StrEnum):
    """Where an update received from Telegram is between its arrival and its handling."""

    PENDING = "pending"  # stored (so acknowledged), waiting for or in its handling
    DONE = "done"  # handled; deleted soon after, with its content
    SET_ASIDE = "set_aside"  # unreadable, or failed every attempt: kept for an operator
