"""A report's card: what a coordinator sees of a report and what they can do from it.

The card shows a report number and what was seen, never who saw it. Core renders the text and
says which actions each coordinator gets; the channel that shows cards (Telegram) adds the
labels and packs the buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.core.content import Content
from bot.core.i18n import N_, Lang
from bot.core.text import cut, for_telegram, shown
from bot.core.vocabulary import ReportStatus
from bot.storage.outbox import ButtonRows

if TYPE_CHECKING:
    # Only a type here: core/reports.py builds views and imports this module to send cards.
    from bot.core.reports import ReportView

FIELD = 1000  # characters of one answer on a card: the card stays readable, and within limits
ANSWERS = 3  # the latest answers to relayed questions a card shows

LABELS = {
    # In the order the card shows them: an SMS report's one message, then the guided answers.
    "text": N_("Message"),
    "activity": N_("What"),
    "location": N_("Where"),
    "time": N_("When"),
    "size": N_("How many"),
    "uniform": N_("Uniforms"),
    "equipment": N_("Equipment"),
}


class CardAction(StrEnum):
    """What a coordinator can do from a report's card (the channel adds labels)."""

    OPEN = "open"  # show the card (from /reports); opening is not claiming
    CLAIM = "claim"  # "I'm verifying" (a help request: "I'm on it"): the others see who took it
    CONFIRM = "ok"
    CONFIRM_GROUP = "okall"  # this one confirmed, the unclaimed nearby ones its duplicates
    NOT_CONFIRMED = "no"
    FALSE_ALARM = "false"
    DUPLICATE = "dup"  # then: of which report
    ASK = "ask"  # one question relayed to the reporter
    BLOCK = "block"  # no more reports from this sender
    PHOTO = "photo"
    CALL_BACK = "call"  # a help request by SMS: the hotline rings the coordinator, then them
    RESOLVED = "done"  # a help request dealt with


CardKeyboard = Callable[["ReportView", Lang, "int | None"], ButtonRows]
"""The buttons of a card as one coordinator (by id) sees it, in their language: given by the
channel that shows cards (Telegram), so core never builds a channel's button data."""


def card_ref(report_id: int) -> str:
    """The outbox ref of a report's cards (the ones edited as the report changes)."""
    return f"card:{report_id}"


def render_card(view: ReportView, content: Content, _: Callable[[str], str]) -> str:
    """The coordinator's card: the report number and what was seen; never who saw it."""
    zone = (
        f"{view.zone} {content.zones.name_of(view.zone) or ''}".strip()
        if view.zone
        else _("zone unknown")
    )
    status = {
        ReportStatus.NEW: _("new"),
        ReportStatus.VERIFYING: _("being verified by {name}").format(name=view.claimed_by or "?"),
        ReportStatus.CONFIRMED: _("confirmed by {name}").format(name=view.decided_by or "?"),
        ReportStatus.NOT_CONFIRMED: _("not confirmed ({name})").format(name=view.decided_by or "?"),
        ReportStatus.FALSE_ALARM: _("false alarm ({name})").format(name=view.decided_by or "?"),
        ReportStatus.DUPLICATE: _("duplicate of #{other}").format(other=view.duplicate_of),
        ReportStatus.EXPIRED: _("expired"),
        ReportStatus.DRAFT: _("draft"),
        ReportStatus.RESOLVED: _("resolved ({name})").format(name=view.decided_by or "?"),
    }[view.status]
    title = (
        _("HELP REQUEST #{id} · {zone} · {status}")
        if view.help_for is not None
        else _("REPORT #{id} · {zone} · {status}")
    )
    lines = [
        title.format(id=view.id, zone=zone, status=status),
        _("via {channel}, in {language}").format(
            channel=view.channel, language=content.language_name(view.language)
        ),
    ]
    # The reporter's words, as typed by anyone: no controls or bidi overrides, and cut so the
    # card stays within Telegram's limit (it is refused whole, never cut, otherwise).
    if view.help_for is not None:
        lines.append(
            _("Answered 2, I need help, to the check-in of alert #{alert}").format(
                alert=view.help_for
            )
        )
    for key, label in LABELS.items():
        value = view.details.get(key)
        if value:
            lines.append(f"{_(label)}: {cut(shown(str(value)), FIELD)}")
    for answer in view.details.get("answers", [])[-ANSWERS:]:
        lines.append(_("Answer: {answer}").format(answer=cut(shown(str(answer)), FIELD)))
    if view.has_photo:
        lines.append(_("Photo: yes"))
    if view.awaits_place:
        lines.append(_("(asked the reporter for the place)"))
    support = view.support
    if view.nearby:
        channels = ", ".join(f"{channel} {n}" for channel, n in sorted(support.channels.items()))
        lines.append(
            _(
                "Nearby within 3 hours: {reports}, from {people} different people ({channels}; "
                "photos: {photos})"
            ).format(
                reports=", ".join(f"#{i}" for i in view.nearby),
                people=support.people,
                channels=channels,
                photos=support.photos,
            )
        )
    if support.verify_asks:
        lines.append(
            _("People who asked VERIFY here in the last hour: {n}").format(n=support.verify_asks)
        )
    if view.alert_id:
        lines.append(_("Alert #{id} drafted from it").format(id=view.alert_id))
    return for_telegram("\n".join(lines))


def card_actions(view: ReportView, viewer: int | None) -> list[list[CardAction]]:
    """The card's buttons for one coordinator: every verdict while nobody verifies it or they
    do; only the photo while someone else does; none once it is decided."""
    if not view.open:
        return []
    photo = [CardAction.PHOTO] if view.has_photo else []
    if view.claimer is not None and view.claimer != viewer:
        return [photo] if photo else []
    if view.help_for is not None:
        # Nothing to verify: someone to reach, by a relayed question or (SMS) a call.
        reach = [CardAction.ASK, *([CardAction.CALL_BACK] if view.call_back else [])]
        first = [CardAction.CLAIM] if view.claimer is None else []
        return [row for row in ([*first, CardAction.RESOLVED], reach) if row]
    verdicts = [
        CardAction.CONFIRM,
        CardAction.NOT_CONFIRMED,
        CardAction.FALSE_ALARM,
        CardAction.DUPLICATE,
        CardAction.ASK,
    ]
    if view.claimer is None:
        verdicts.insert(0, CardAction.CLAIM)
    rows = [verdicts[i : i + 2] for i in range(0, len(verdicts), 2)]
    if view.group:
        rows.insert(0, [CardAction.CONFIRM_GROUP])
    rows.append([*photo, CardAction.BLOCK])
    return rows
