"""One turn of the conversation: the state every feature's answers read, and the menu.

Each feature module (consent, preferences, rights, workshops, reports) holds a class deriving
from `BaseTurn`; `bot.core.conversation` combines them into the turn and keeps the table of
which one answers each intent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.content import DEFAULT_LANGUAGE
from bot.core.conversation.messages import Choice, Inbound, Reply, Style
from bot.core.intents import Intent, Request
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.storage.db import Session
from bot.storage.models import SubscriberRow
from bot.storage.subscribers import Subscribers

if TYPE_CHECKING:
    # Only a type here: the conversation builds each turn, so it imports this module.
    from bot.core.conversation import Conversation

STYLE = {Channel.SMS: Style.SMS, Channel.TELEGRAM: Style.RICH}


class BaseTurn:
    """One inbound message being answered, inside one transaction."""

    def __init__(
        self,
        conversation: Conversation,
        inbound: Inbound,
        subscribers: Subscribers,
        row: SubscriberRow | None,
        session: Session,
    ) -> None:
        self.c = conversation
        self.session = session
        self.content = conversation.content
        self.inbound = inbound
        self.request = inbound.request
        self.subscribers = subscribers
        self.row = row
        self.style = STYLE[inbound.channel]
        self.now = conversation.clock()
        # A turn may change its language midway (a language chosen, a report's own language).
        self.lang = self.content.lang(self._language())
        self._ = self.lang.gettext

    def _language(self) -> str:
        spoken = self.request.keyword_language
        if spoken and spoken != DEFAULT_LANGUAGE:
            return self.content.supported(spoken)
        if self.row is not None:
            return self.content.supported(self.row.language)
        return self.content.supported(spoken or self.inbound.client_language)

    @property
    def sms(self) -> bool:
        return self.style is Style.SMS

    @property
    def active(self) -> bool:
        return self.row is not None and self.row.status == SubscriberStatus.ACTIVE

    # The menu is here rather than with a feature: whatever a feature cannot make sense of
    # (a stale button, an empty reply) gets it.

    async def menu(self) -> list[Reply]:
        _ = self._
        if self.sms:
            if self.active:
                text = _(
                    "Text RIGHTS for your rights, HELP for help, a ZIP code to change your "
                    "area, LANG for language, STOP to opt out."
                )
            else:
                text = _(
                    "Text JOIN and your ZIP code (like JOIN 60629) for verified alerts, "
                    "RIGHTS for your rights, HELP for help."
                )
            return [Reply(text)]
        if self.active:
            text = _("What would you like to do?")
        else:
            text = _("Send /start to get verified alerts, or choose:")
        return [Reply(text, self._menu_choices())]

    def _menu_choices(self) -> tuple[Choice, ...]:
        _ = self._
        return (
            Choice(_("Know your rights"), Request(Intent.RIGHTS)),
            Choice(_("Language"), Request(Intent.LANGUAGE_MENU)),
            Choice(_("ZIP code"), Request(Intent.ZONE_PROMPT)),
            Choice(_("Help"), Request(Intent.HELP)),
        )
