"""The person's preferences: the language they read, the ZIP code their alerts are for, and
whether they get the network's drills (DRILLS OFF / DRILLS ON)."""

from __future__ import annotations

from bot.core.conversation.messages import Choice, Reply, ZoneCheck
from bot.core.conversation.turn import BaseTurn
from bot.core.intents import Intent, Request


class PreferenceAnswers(BaseTurn):
    """Answers to LANG and a language's name, and to a ZIP code; the words for a zone."""

    async def language_menu(self) -> list[Reply]:
        if self.sms:
            names = ", ".join(
                self.content.language_name(code).upper() for code in self.content.languages
            )
            return [Reply(self._("Reply with your language: {names}").format(names=names))]
        return [Reply(self._("Choose your language:"), self._language_choices())]

    def _language_choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(self.content.language_name(code), Request(Intent.SET_LANGUAGE, code))
            for code in self.content.languages
        )

    async def set_language(self) -> list[Reply]:
        code = self.content.supported(self.request.arg)
        self.lang = self.content.lang(code)
        self._ = _ = self.lang.gettext
        if self.row is None:
            return await self.menu()
        self.row.language = code
        text = _("Language set: {name}.").format(name=self.content.language_name(code))
        if self.row.zone is None and self.active:
            return [Reply(text), Reply(self._zip_prompt())]
        return [Reply(text)]

    async def zone_prompt(self) -> list[Reply]:
        return [Reply(self._zip_prompt())]

    def _zip_prompt(self) -> str:
        _ = self._
        if self.sms:
            return _("Reply with your 5-digit ZIP code to get alerts for your area.")
        return _(
            "Send your 5-digit ZIP code to get alerts for your area. We never ask for your address."
        )

    async def set_zone(self) -> list[Reply]:
        _ = self._
        zip_code = self.request.arg or ""
        check = self.c.check_zone(zip_code)
        if check is not ZoneCheck.IN_AREA:
            return [Reply(self._zone_problem(zip_code, check))]
        if self.row is None or not self.active:
            if self.sms:
                return [Reply(_("To get alerts for {zip}, text JOIN {zip}.").format(zip=zip_code))]
            return [Reply(_("Send /start to get alerts for {zip}.").format(zip=zip_code))]
        self.row.zone = zip_code
        return [
            Reply(_("Your area is now {zone}.").format(zone=self._zone_label(zip_code).strip()))
        ]

    async def drills(self) -> list[Reply]:
        """DRILLS OFF: drills are no longer queued to them (real alerts still are); DRILLS
        ON: again; DRILLS alone: how it is now."""
        _ = self._
        if self.row is None or not self.active:
            return await self.menu()
        if self.request.arg is not None:
            self.row.no_drills = self.request.arg == "off"
        if self.row.no_drills:
            return [
                Reply(
                    _(
                        "You will not get drills. Real alerts still come. DRILLS ON to get drills again."
                    )
                )
            ]
        return [
            Reply(
                _(
                    "You get the network's drills, marked DRILL. DRILLS OFF to stop them; real alerts still come."
                )
            )
        ]

    def _zone_label(self, zip_code: str | None) -> str:
        """ "60629 (Chicago Lawn, West Lawn, Gage Park)": the ZIP and the names people use."""
        if zip_code is None:
            return ""
        name = self.content.zones.name_of(zip_code)
        return f"{zip_code} ({name})" if name and name != zip_code else zip_code

    def _zone_problem(self, zip_code: str, check: ZoneCheck) -> str:
        _ = self._
        if check is ZoneCheck.OUTSIDE_AREA:
            return _(
                "{zip} is outside {area}, the area this network serves. Send a ZIP code in {area}."
            ).format(zip=zip_code, area=self.content.zones.area_name(self.lang.code))
        return _("{zip} is not a ZIP code. Send a 5-digit ZIP code like 60629.").format(
            zip=zip_code
        )
