"""Coordinators in Telegram: compose an alert, preview it, send or approve it, follow it.

To anyone who is not a coordinator these commands and buttons do not exist: they get the
same menu as for any unknown command, and nothing about coordinators or subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.core.alerts import AlertDraft, AlertError, Alerts, Preview, Progress
from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.coordinators import Coordinator, CoordinatorError, Coordinators
from bot.core.i18n import Lang
from bot.storage.models import AlertKind, AlertStatus, Role

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
COMMANDS = ("alert", "status", "coordinators", "skip", "cancel")
PREFIX = "c:"  # callback data of coordinator buttons
EXPIRY_CHOICES = (2, 4, 8, 12)  # hours
COMPOSER = "composer"  # key in PTB's per-user data
ALL_WORDS = frozenset({"all", "todas", "todos", "todo"})


@dataclass
class Composition:
    """An alert being composed, step by step, in one coordinator's chat."""

    step: str  # "kind", "zones", "refers", "text", "expiry", "preview"
    kind: AlertKind = AlertKind.ALERT
    zones: tuple[str, ...] = ()
    refers_to: int | None = None
    texts: dict[str, str] = field(default_factory=dict)
    pending_languages: list[str] = field(default_factory=list)
    alert_id: int | None = None


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=PREFIX + data) for label, data in row]
            for row in rows
        ]
    )


class CoordinatorHandlers:
    """The coordinator commands and buttons; `fallback` answers anyone else."""

    def __init__(
        self,
        coordinators: Coordinators,
        alerts: Alerts,
        content: Content,
        fallback: Any,  # async (update, context) -> None: the ordinary menu
    ) -> None:
        self.coordinators = coordinators
        self.alerts = alerts
        self.content = content
        self.fallback = fallback

    def lang(self, update: Update) -> Lang:
        user = update.effective_user
        return self.content.lang(self.content.supported(user.language_code if user else None))

    async def who(self, update: Update) -> Coordinator | None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or chat.type != "private":
            return None
        return await self.coordinators.by_telegram(user.id)

    def composing(self, context: Context) -> Composition | None:
        data = context.user_data if context.user_data is not None else {}
        found = data.get(COMPOSER)
        return found if isinstance(found, Composition) else None

    # --- entry points ----------------------------------------------------------------------

    async def command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        me = await self.who(update)
        if me is None or message is None or message.text is None:
            await self.fallback(update, context)
            return
        name = message.text.split()[0].lstrip("/").split("@", 1)[0].lower()
        if name == "alert":
            await self.start_composer(update, context)
        elif name == "status":
            await self.status(update)
        elif name == "coordinators":
            await self.list_coordinators(update, me)
        elif name == "cancel":
            self._stop(context)
            await message.reply_text(self.lang(update).gettext("Cancelled."))
        elif name == "skip" and (composition := self.composing(context)) is not None:
            await self.text_step(update, context, composition, skip=True)
        else:
            await self.fallback(update, context)

    async def text(self, update: Update, context: Context) -> bool:
        """Text while composing belongs to the composer; False lets the ordinary handler answer."""
        composition = self.composing(context)
        if composition is None or composition.step not in ("zones", "text"):
            return False
        if await self.who(update) is None:
            self._stop(context)
            return False
        await self.text_step(update, context, composition, skip=False)
        return True

    async def button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        me = await self.who(update)
        if me is None:
            # A forged or stale coordinator button from a subscriber: the ordinary menu.
            await self.fallback(update, context)
            return
        action, _, arg = query.data.removeprefix(PREFIX).partition(":")
        handlers = {
            "kind": self.chose_kind,
            "ref": self.chose_original,
            "exp": self.chose_expiry,
            "send": self.send,
            "drop": self.drop,
            "approve": self.approve,
            "reject": self.reject,
            "invite": self.invite,
            "remove": self.remove,
        }
        handler = handlers.get(action)
        if handler is not None:
            await handler(update, context, me, arg)

    # --- composing -------------------------------------------------------------------------

    async def start_composer(self, update: Update, context: Context) -> None:
        _ = self.lang(update).gettext
        if context.user_data is not None:
            context.user_data[COMPOSER] = Composition(step="kind")
        await self._say(
            update,
            _("New message to subscribers. What kind? (/cancel to stop)"),
            keyboard(
                [
                    [(_("Alert"), "kind:alert"), (_("Update"), "kind:update")],
                    [(_("Correction"), "kind:correction"), (_("All clear"), "kind:all_clear")],
                ]
            ),
        )

    async def chose_kind(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "kind" or arg not in set(AlertKind):
            return
        _ = self.lang(update).gettext
        composition.kind = AlertKind(arg)
        if composition.kind is AlertKind.ALERT:
            composition.step = "zones"
            await self._say(
                update,
                _("Which zones? Send ZIP codes separated by commas (60629, 60632), or all."),
            )
            return
        sent = [
            a
            for a in await self.alerts.recent(10)
            if a.kind is AlertKind.ALERT and a.status in (AlertStatus.QUEUED, AlertStatus.DONE)
        ]
        if not sent:
            self._stop(context)
            await self._say(update, _("There is no sent alert to follow up."))
            return
        composition.step = "refers"
        rows = [[(f"#{a.id} {', '.join(a.zones)}", f"ref:{a.id}")] for a in sent[:6]]
        await self._say(update, _("Which alert does it follow?"), keyboard(rows))

    async def chose_original(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "refers" or not arg.isdigit():
            return
        composition.refers_to = int(arg)
        await self._ask_texts(update, composition)

    async def _ask_texts(self, update: Update, composition: Composition) -> None:
        composition.step = "text"
        others = [code for code in self.content.languages if code != DEFAULT_LANGUAGE]
        composition.pending_languages = [DEFAULT_LANGUAGE, *others]
        await self._ask_next_text(update, composition)

    async def _ask_next_text(self, update: Update, composition: Composition) -> None:
        _ = self.lang(update).gettext
        code = composition.pending_languages[0]
        name = self.content.language_name(code)
        template = self.content.alert_templates.get(str(composition.kind), {}).get(code)
        if code == DEFAULT_LANGUAGE:
            prompt = _(
                "Send the text in {language}. Every language without its own text gets this one."
            )
        else:
            prompt = _(
                "Send the text in {language}, or /skip to send English to {language} speakers."
            )
        lines = [prompt.format(language=name)]
        if template:
            lines += ["", _("Template (copy it and fill in the brackets):"), template]
        await self._say(update, "\n".join(lines))

    async def text_step(
        self, update: Update, context: Context, composition: Composition, *, skip: bool
    ) -> None:
        message = update.effective_message
        if message is None:
            return
        _ = self.lang(update).gettext
        if composition.step == "zones":
            if skip:
                return
            words = [w.strip().lower() for w in (message.text or "").replace(" ", ",").split(",")]
            # "all" in English or Spanish (the prompt says it in the coordinator's language).
            composition.zones = tuple(
                "all" if w in ALL_WORDS else w for w in dict.fromkeys(w for w in words if w)
            )
            await self._ask_texts(update, composition)
            return
        code = composition.pending_languages[0]
        if skip and code == DEFAULT_LANGUAGE:
            await self._say(
                update, _("The English text is needed: every other language falls back to it.")
            )
            return
        if not skip:
            composition.texts[code] = message.text or ""
        composition.pending_languages.pop(0)
        if composition.pending_languages:
            await self._ask_next_text(update, composition)
            return
        composition.step = "expiry"
        rows = [[(_("{hours} hours").format(hours=h), f"exp:{h}") for h in EXPIRY_CHOICES]]
        await self._say(
            update,
            _("How long does it hold? After that it is never delivered late."),
            keyboard(rows),
        )

    async def chose_expiry(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "expiry" or not arg.isdigit():
            return
        _ = self.lang(update).gettext
        draft = AlertDraft(
            kind=composition.kind,
            zones=composition.zones,
            texts=composition.texts,
            expires_in=timedelta(hours=int(arg)),
            refers_to=composition.refers_to,
        )
        try:
            alert = await self.alerts.draft(draft, me.actor())
        except AlertError as exc:
            self._stop(context)
            await self._say(
                update, _("Not drafted: {reason}. /alert to start again.").format(reason=exc)
            )
            return
        composition.step = "preview"
        composition.alert_id = alert.id
        preview = await self.alerts.preview(alert.id)
        needs_approval = await self.alerts.needs_approval()
        send_label = _("Send for approval") if needs_approval else _("Send now")
        await self._say(
            update,
            self.describe(update, alert.id, preview, alert.texts),
            keyboard([[(send_label, f"send:{alert.id}"), (_("Cancel"), f"drop:{alert.id}")]]),
        )

    def describe(
        self, update: Update, alert_id: int, preview: Preview, texts: dict[str, str]
    ) -> str:
        """The preview: recipients by channel and language, SMS cost, time, and the texts."""
        _ = self.lang(update).gettext
        lines = [_("Preview of #{id}: {people} people").format(id=alert_id, people=preview.total)]
        for (channel, code), n in sorted(preview.recipients.items()):
            lines.append(f"• {channel} · {self.content.language_name(code)}: {n}")
        for code, cost in sorted(preview.segments.items()):
            forced = (
                _(" (forced by {characters})").format(characters=" ".join(cost.non_gsm))
                if cost.non_gsm
                else ""
            )
            lines.append(
                _("SMS in {language}: {segments} segment(s), {encoding}{forced}").format(
                    language=self.content.language_name(code),
                    segments=cost.segments,
                    encoding=cost.encoding,
                    forced=forced,
                )
            )
        if preview.fallback:
            names = ", ".join(self.content.language_name(code) for code in preview.fallback)
            lines.append(
                _("No text of their own, they get English: {languages}").format(languages=names)
            )
        lines.append(
            _("Time to send at the provider limits: about {minutes} min").format(
                minutes=max(1, round(preview.seconds / 60))
            )
        )
        for code, text in texts.items():
            lines += ["", f"[{self.content.language_name(code)}]", text]
        return "\n".join(lines)

    async def send(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        self._stop(context)
        try:
            alert = await self.alerts.submit(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not sent: {reason}").format(reason=exc))
            return
        if alert.status is AlertStatus.PENDING:
            await self._say(
                update, _("Waiting for a second coordinator to approve #{id}.").format(id=alert.id)
            )
            await self._ask_for_approval(update, context, me, alert.id)
            return
        await self._say(
            update,
            _("Sending #{id} to {people} people. /status to follow it.").format(
                id=alert.id, people=alert.recipients
            ),
        )

    async def _ask_for_approval(
        self, update: Update, context: Context, me: Coordinator, alert_id: int
    ) -> None:
        alert = await self.alerts.get(alert_id)
        preview = await self.alerts.preview(alert_id)
        for coordinator_id, chat_id in (await self.coordinators.telegram_ids()).items():
            if coordinator_id == me.id:
                continue
            text = _approval_request(self, update, me, alert_id, preview, alert.texts)
            markup = keyboard(
                [[("Approve", f"approve:{alert_id}"), ("Reject", f"reject:{alert_id}")]]
            )
            try:
                await context.bot.send_message(chat_id, text, reply_markup=markup)
            except Exception:
                log.warning("could not ask a coordinator for approval")

    async def approve(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        try:
            alert = await self.alerts.approve(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not approved: {reason}").format(reason=exc))
            return
        await self._say(
            update,
            _("Approved: sending #{id} to {people} people.").format(
                id=alert.id, people=alert.recipients
            ),
        )
        await self._tell_author(
            context,
            alert.created_by,
            _("#{id} was approved by {name} and is being sent to {people} people.").format(
                id=alert.id, name=me.label, people=alert.recipients
            ),
        )

    async def reject(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        try:
            alert = await self.alerts.reject(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not rejected: {reason}").format(reason=exc))
            return
        await self._say(update, _("Rejected #{id}: nothing was sent.").format(id=alert.id))
        await self._tell_author(
            context,
            alert.created_by,
            _("#{id} was rejected by {name}: nothing was sent.").format(id=alert.id, name=me.label),
        )

    async def drop(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        self._stop(context)
        await self._say(update, self.lang(update).gettext("Cancelled: nothing was sent."))

    async def _tell_author(self, context: Context, author_id: int | None, text: str) -> None:
        if author_id is None:
            return
        chat_id = (await self.coordinators.telegram_ids()).get(author_id)
        if chat_id is not None:
            try:
                await context.bot.send_message(chat_id, text)
            except Exception:
                log.warning("could not tell the author of an alert")

    # --- following ----------------------------------------------------------------------

    async def status(self, update: Update) -> None:
        _ = self.lang(update).gettext
        recent = await self.alerts.recent(5)
        if not recent:
            await self._say(update, _("No alerts yet. /alert to compose one."))
            return
        lines = []
        for alert in recent:
            progress = await self.alerts.progress(alert.id)
            by_channel: dict[str, dict[str, int]] = {}
            for (channel, status), n in progress.counts.items():
                by_channel.setdefault(channel, {})[status] = n
            lines.append(
                f"#{alert.id} {alert.kind} · {alert.status} · {', '.join(alert.zones) or '-'}"
            )
            for channel, counts in sorted(by_channel.items()):
                parts = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
                lines.append(f"   {channel}: {parts}")
        await self._say(update, "\n".join(lines))

    # --- coordinators (admins) ----------------------------------------------------------

    async def list_coordinators(self, update: Update, me: Coordinator) -> None:
        _ = self.lang(update).gettext
        everyone = await self.coordinators.all()
        lines = [_("Coordinators:")] + [f"#{c.id} {c.label} · {c.role}" for c in everyone]
        if not me.is_admin:
            await self._say(update, "\n".join(lines))
            return
        rows = [
            [
                (_("Invite a coordinator"), "invite:coordinator"),
                (_("Invite an admin"), "invite:admin"),
            ]
        ]
        rows += [
            [(_("Remove #{id}").format(id=c.id), f"remove:{c.id}")]
            for c in everyone
            if c.id != me.id
        ]
        await self._say(update, "\n".join(lines), keyboard(rows))

    async def invite(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        if not me.is_admin or arg not in set(Role):
            return
        code = await self.coordinators.invite(Role(arg), me.actor())
        link = f"https://t.me/{context.bot.username}?start=inv_{code}"
        await self._say(
            update,
            _(
                "Invite for one {role}, valid 24 hours and once. Send them this link privately:\n{link}"
            ).format(role=arg, link=link),
        )

    async def remove(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        if not me.is_admin or not arg.isdigit():
            return
        try:
            await self.coordinators.remove(int(arg), me.actor())
        except CoordinatorError as exc:
            await self._say(update, str(exc))
            return
        await self._say(update, _("Removed #{id}.").format(id=arg))

    async def redeem(self, update: Update, code: str) -> None:
        """`/start inv_CODE`: join as a coordinator, or hear why the code does not work."""
        user = update.effective_user
        if user is None:
            return
        _ = self.lang(update).gettext
        try:
            joined = await self.coordinators.redeem(code, user.id, label=_("coordinator"))
        except CoordinatorError as exc:
            await self._say(update, str(exc))
            return
        await self._say(
            update,
            _(
                "Welcome, coordinator #{id}. /alert composes an alert, /status follows them, "
                "/coordinators lists the team."
            ).format(id=joined.id),
        )

    # --- helpers ------------------------------------------------------------------------

    def _stop(self, context: Context) -> None:
        if context.user_data is not None:
            context.user_data.pop(COMPOSER, None)

    async def _say(
        self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        chat = update.effective_chat
        if chat is not None:
            await chat.send_message(text, reply_markup=markup)


def _approval_request(
    handlers: CoordinatorHandlers,
    update: Update,
    author: Coordinator,
    alert_id: int,
    preview: Preview,
    texts: dict[str, str],
) -> str:
    _ = handlers.lang(update).gettext
    head = _("{name} asks you to approve #{id} before it goes out.").format(
        name=author.label, id=alert_id
    )
    return head + "\n\n" + handlers.describe(update, alert_id, preview, texts)


class Summaries:
    """Tells each composer how their alert went once every delivery has ended.

    Sent straight to the coordinator (not through the outbox): if the process dies first,
    the alert stays unsummarised and the next poll, here or in another process, tells them.
    """

    def __init__(
        self,
        alerts: Alerts,
        coordinators: Coordinators,
        content: Content,
        bot: Any,
        every: float = 2.0,
    ) -> None:
        self.alerts = alerts
        self.coordinators = coordinators
        self.content = content
        self.bot = bot
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="alert-summaries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tell()
            except Exception:
                log.exception("alert summaries failed")
            await asyncio.sleep(self.every)

    async def tell(self) -> int:
        finished = await self.alerts.take_finished()
        if not finished:
            return 0
        chats = await self.coordinators.telegram_ids()
        for progress in finished:
            chat_id = chats.get(progress.alert.created_by or -1)
            if chat_id is None:
                continue
            await self.bot.send_message(
                chat_id, summary(self.content.lang(DEFAULT_LANGUAGE), progress)
            )
        return len(finished)


def summary(lang: Lang, progress: Progress) -> str:
    _ = lang.gettext
    alert = progress.alert
    totals: dict[str, int] = {}
    for (_channel, status), n in progress.counts.items():
        totals[status] = totals.get(status, 0) + n
    reached = totals.get("sent", 0) + totals.get("delivered", 0)
    lines = [
        _("#{id} is done: {reached} of {people} reached.").format(
            id=alert.id, reached=reached, people=alert.recipients
        )
    ]
    for (channel, status), n in sorted(progress.counts.items()):
        lines.append(f"• {channel} · {status}: {n}")
    return "\n".join(lines)
