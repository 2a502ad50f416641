"""Consent: signing up (JOIN, /start), opting out (STOP) and HELP, the carrier keywords.

On SMS these follow the carrier rules (CTIA): the opt-in confirmation names the program,
what and how often, rates, HELP and STOP; after STOP, silence until the person opts in again.
"""

from __future__ import annotations

from bot.core.content import DEFAULT_LANGUAGE
from bot.core.conversation.messages import Choice, Reply, ZoneCheck
from bot.core.conversation.preferences import PreferenceAnswers
from bot.core.subscribers import DEFAULT_TOPICS
from bot.core.vocabulary import OutsideArea, SubscriberStatus


class ConsentAnswers(PreferenceAnswers):
    """Answers to JOIN, STOP and HELP. Signing up may set a zone and offers the languages,
    so consent builds on the preferences."""

    _wide = False  # this sign-up is for network-wide alerts only (a ZIP outside the area)

    async def subscribe(self) -> list[Reply]:
        _ = self._
        via = self._via()
        zip_code = self.request.arg
        zone_note: str | None = None
        zone: str | None = None
        self._wide = False
        if zip_code:
            check = self.c.check_zone(zip_code)
            wide = self.content.zones.outside is OutsideArea.NETWORK_WIDE
            if check is ZoneCheck.IN_AREA:
                zone = zip_code
            elif check is ZoneCheck.OUTSIDE_AREA and wide:
                self._wide = True
            elif not self.active:
                # Not a sign-up: nothing is stored, no consent recorded, and the menu does
                # not treat them as subscribed. They hear why, and what would work.
                return [Reply(self._zone_problem(zip_code, check))]
            else:
                zone_note = self._zone_problem(zip_code, check)
        was_active = self.active
        if self.row is None:
            self.row = await self.subscribers.add(
                self.inbound.channel,
                self.inbound.address,
                language=self.lang.code,
                zone=zone,
                topics=list(DEFAULT_TOPICS),
                via=via,
                now=self.now,
            )
        else:
            if not was_active:
                self.subscribers.set_status(
                    self.row, SubscriberStatus.ACTIVE, via=via, now=self.now
                )
            self.row.language = self.lang.code
            if zone:
                self.row.zone = zone
        replies = [Reply(self._welcome(already=was_active), self._welcome_choices())]
        if zone_note:
            replies.append(Reply(zone_note))
        elif self._wide:
            pass  # their ZIP is outside the area: asking for one would only repeat it
        elif self.row.zone is None and (self.sms or self.request.keyword_language):
            # On Telegram without a language in the link, the language buttons come first
            # and the ZIP prompt follows the choice.
            replies.append(Reply(self._zip_prompt()))
        return replies

    def _welcome(self, *, already: bool) -> str:
        _ = self._
        network = self.content.network
        zone = self.row.zone if self.row else None
        values = {
            "program": network.name,
            "zone": self._zone_label(zone),
            "frequency": network.in_language(network.alert_frequency, self.lang.code),
            "area": self.content.zones.area_name(self.lang.code),
        }
        if self.sms:
            # CTIA opt-in confirmation: program, what and how often, rates, HELP, STOP.
            if self._wide:
                text = _(
                    "{program}: you're signed up for verified alerts sent to the whole network "
                    "(your ZIP code is outside {area}) and know-your-rights info ({frequency}). "
                    "Msg & data rates may apply. Reply HELP for help, STOP to opt out."
                )
            elif zone:
                text = _(
                    "{program}: you're signed up for verified alerts for {zone} and "
                    "know-your-rights info ({frequency}). Msg & data rates may apply. "
                    "Reply HELP for help, STOP to opt out."
                )
            else:
                text = _(
                    "{program}: you're signed up for verified alerts and know-your-rights "
                    "info ({frequency}). Msg & data rates may apply. Reply HELP for help, "
                    "STOP to opt out."
                )
            return text.format(**values)
        lead = _("You're already signed up.") if already else _("Welcome to {program}.")
        if self._wide:
            body = _(
                "Your ZIP code is outside {area}: you'll receive the verified alerts sent to the "
                "whole network, workshop reminders, and know-your-rights answers whenever you "
                "ask ({frequency}). We never ask for your name or location."
            )
        elif zone:
            body = _(
                "You'll receive verified alerts about immigration enforcement in {zone}, "
                "workshop reminders, and know-your-rights answers whenever you ask "
                "({frequency}). We never ask for your name or location."
            )
        else:
            body = _(
                "You'll receive verified alerts about immigration enforcement, workshop "
                "reminders, and know-your-rights answers whenever you ask ({frequency}). "
                "We never ask for your name or location."
            )
        parts = [lead, body, _("Send /stop at any time to stop, /help for help.")]
        if not self.request.keyword_language:
            parts.append(_("Choose your language:"))
        return "\n\n".join(part.format(**values) for part in parts)

    def _welcome_choices(self) -> tuple[Choice, ...]:
        if self.sms or self.request.keyword_language:
            return ()
        return self._language_choices()

    async def stop(self) -> list[Reply]:
        _ = self._
        if self.sms and self.inbound.provider_opt_out:
            # Twilio blocks the number from now on: mirror it, so that a later JOIN (which
            # Twilio does not treat as opting in) is not taken for a reachable subscriber.
            if self.row is None:
                self.row = await self.subscribers.add_opted_out(
                    self.inbound.channel,
                    self.inbound.address,
                    language=self.lang.code,
                    via=self._via(),
                    now=self.now,
                )
            self.row.provider_blocked = True
        if self.row is None or not self.active:
            if self.sms and self.row is not None:
                return []  # confirmed once already: silence
            if self.sms:
                return [Reply(self._stop_confirmation())]
            return [Reply(_("You're not subscribed. Send /start to sign up."))]
        self.subscribers.set_status(
            self.row, SubscriberStatus.OPTED_OUT, via=self._via(), now=self.now
        )
        return [Reply(self._stop_confirmation())]

    def _stop_confirmation(self) -> str:
        _ = self._
        if self.sms:
            return _(
                "{program}: you're unsubscribed and will get no more messages. "
                "Reply {start} to sign up again."
            ).format(program=self.content.network.name, start=self.c.opt_in_keywords[0])
        return _(
            "You're unsubscribed: no more alerts or reminders. Send /start to sign up again, "
            "or /rights any time."
        )

    async def stop_question(self) -> list[Reply]:
        """A message that begins with an opt-out word and goes on ("cancel my RSVP"): no
        opt-out, as at the carrier; one line says how to stop, if that was meant."""
        return [Reply(self._("Reply STOP to stop all messages."))]

    async def help(self) -> list[Reply]:
        _ = self._
        network = self.content.network
        if self.sms:
            return [
                Reply(
                    _(
                        "{program}: verified immigration alerts and know-your-rights info. "
                        "Hotline {hotline}. Contact {contact}. Text RIGHTS for your rights. "
                        "Msg & data rates may apply. Reply STOP to opt out."
                    ).format(program=network.name, hotline=network.hotline, contact=network.contact)
                )
            ]
        lines = [
            _("{program} sends verified alerts about immigration enforcement near you.").format(
                program=network.name
            ),
            "",
            _("/rights - know your rights"),
            _("/language - change language"),
            _("/zone - change your ZIP code"),
            _("/workshops - upcoming workshops"),
            _("/report - report enforcement activity"),
            _("/stop - stop messages"),
            "",
            _("{name}: {hotline}").format(
                name=network.in_language(network.hotline_name, self.lang.code),
                hotline=network.hotline,
            ),
        ]
        for resource in self.content.resources:
            what = resource.what.get(self.lang.code) or resource.what.get(DEFAULT_LANGUAGE, "")
            reach = resource.phone or resource.website or ""
            lines.append(
                f"• {resource.name} ({reach}): {what}" if what else f"• {resource.name} ({reach})"
            )
        return [Reply("\n".join(lines), self._menu_choices())]

    def _via(self) -> str:
        """How consent was given, for the consent record: a channel and a keyword or command."""
        return f"{self.inbound.channel}:{self.request.keyword or self.request.intent}"
