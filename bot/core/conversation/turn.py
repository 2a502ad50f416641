"""One turn of the conversation: the state every feature's answers read, and the menu.

Each feature module (consent, preferences, rights, workshops, reports) holds a class deriving
from `BaseTurn`; `bot.core.conversation` combines them into the turn and keeps the table of
which one answers each intent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.content import DEFAULT_LANGUAGE
from bot.core.conversation.messages import Choice, Inbound, Reply, Style
from bot.core.i18n import N_
from bot.core.intents import Intent, Request
from bot.core.keywords import guess_language, zip_in
from bot.core.segments import gsm_fold
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.storage.db import Session
from bot.storage.models import SubscriberRow
from bot.storage.subscribers import Subscribers

if TYPE_CHECKING:
    # Only a type here: the conversation builds each turn, so it imports this module.
    from bot.core.conversation import Conversation

STYLE = {Channel.SMS: Style.SMS, Channel.TELEGRAM: Style.RICH}
SHORT = 160  # characters: a message this short may be a newcomer saying where they live
JOIN_MENU = N_(
    "Text JOIN and your ZIP code (like JOIN 60629) for verified alerts, "
    "RIGHTS for your rights, HELP for help."
)


class BaseTurn:
    """One inbound message being answered, inside one transaction."""

    language_unknown = False  # a newcomer whose language nothing says (emoji, another script)
    guessed: str | None = None  # a newcomer's language, read from their first message

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
        # A newcomer: the keyword's language, else the words they wrote ("Hola"), else what
        # their app says. With none of these, an SMS menu speaks English and Spanish at once.
        text = self.inbound.text
        guessed = guess_language(text, self.content.languages) if text else None
        self.guessed = guessed
        self.language_unknown = not (spoken or guessed or self.inbound.client_language)
        return self.content.supported(spoken or guessed or self.inbound.client_language)

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
                return [Reply(text)]
            offer = self._offer_zone()
            if offer is not None:
                return [Reply(offer)]
            if self.language_unknown:
                return [Reply(self._in_english_and_spanish(JOIN_MENU))]
            return [Reply(self._with_language_offer(_(JOIN_MENU)))]
        if self.active:
            text = _("What would you like to do?")
        else:
            text = _("Send /start to get verified alerts, or choose:")
        return [Reply(text, self._menu_choices())]

    def _with_language_offer(self, menu: str) -> str:
        """A newcomer's menu in the language their message is in, and how to sign up in it
        (JOIN is English; the language's keyword after the ZIP code makes it theirs)."""
        code = self.guessed
        if self.row is not None or code is None or code in (DEFAULT_LANGUAGE, "es"):
            return menu  # Spanish has its own keyword for it, ALTA, which the menu names
        words = self.content.rights[code].keywords
        if not words:
            return menu
        offer = self._("For {language}, add {word} (like JOIN 60629 {word}).").format(
            language=self.content.language_name(code), word=words[0]
        )
        return f"{menu}\n{offer}"

    def _offer_zone(self) -> str | None:
        """A newcomer's short message that names a ZIP code of the area ("quiero alertas,
        vivo en el 60623"): the sign-up for it, in one reply."""
        text = self.inbound.text or ""
        zip_code = zip_in(text) if self.row is None and len(text) <= SHORT else None
        name = self.content.zones.name_of(zip_code) if zip_code else None
        if zip_code is None or name is None:
            return None
        zone = f"{zip_code} ({name})" if name != zip_code else zip_code
        return self._("Sign up for verified alerts for {zone}? Reply JOIN {zip}.").format(
            zone=zone, zip=zip_code
        )

    def _in_english_and_spanish(self, msgid: str) -> str:
        """One SMS in English and then Spanish, every letter GSM-7 (a newcomer whose language
        nothing says; the languages issue will offer every language the same way)."""
        english = self.content.lang(DEFAULT_LANGUAGE).gettext(msgid)
        spanish = self.content.lang("es").gettext(msgid) if "es" in self.content.languages else ""
        parts = [english] if spanish in ("", english) else [english, spanish]
        return gsm_fold("\n".join(parts))

    def _menu_choices(self) -> tuple[Choice, ...]:
        _ = self._
        choices = [Choice(_("Know your rights"), Request(Intent.RIGHTS))]
        if self.c.reports is not None:
            choices.append(Choice(_("Report what I see"), Request(Intent.REPORT)))
        if self.c.workshops is not None:
            choices.append(Choice(_("Workshops"), Request(Intent.WORKSHOPS)))
        choices += [
            Choice(_("Language"), Request(Intent.LANGUAGE_MENU)),
            Choice(_("ZIP code"), Request(Intent.ZONE_PROMPT)),
            Choice(_("Help"), Request(Intent.HELP)),
        ]
        return tuple(choices)
