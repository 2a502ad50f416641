"""`POST /twilio/voice` and its steps under `/twilio/voice/…`: the hotline as a caller hears it.

Every request is signed by Twilio (else 403) and answered at once with TwiML. What a step
needs from the ones before (the language, the ZIP code, how often the menu went unanswered)
travels in its URL's query, which Twilio signs too; nothing of a call is kept but the
report it may leave and the sign-up it may ask for. The caller's number is used for the
report limits (the reporter's blind index), the sign-up and the texts it sends, and is never
logged. No recording is made: a spoken report is Twilio's transcript, kept as a report's text.

Menus (design.md): the language first (1 English, 2 Español, then config/voice.yaml's order,
9 for more), then 1 rights, 2 report, 3 a volunteer, 4 alerts by text, 9 repeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from bot.channels.sms.webhook import forbidden, signed_form
from bot.core.content import DEFAULT_LANGUAGE, TOPIC_KEYS, Content
from bot.core.conversation import Conversation, Inbound
from bot.core.errors import is_failure
from bot.core.hotline import Hotline, phone_number
from bot.core.i18n import N_
from bot.core.intents import Intent
from bot.core.intents import Request as Asked
from bot.core.reports import Reports
from bot.core.text import shown
from bot.core.vocabulary import Channel
from bot.delivery.deletions import Deletions
from bot.metrics import Metrics

log = logging.getLogger(__name__)

PATH = "/twilio/voice"
TWIML = "application/xml"
PAGE = 7  # languages on one page of the language menu (1-8 after English, Spanish; 9 more)
RING_SECONDS = 25  # how long volunteers are rung before the call goes to the fallback line
SPEECH_LENGTH = 1000  # characters of a spoken report kept
Step = Callable[[dict[str, str], dict[str, str]], Awaitable[VoiceResponse]]


class VoiceWebhook:
    """Incoming calls to the hotline: menus, rights read aloud, a spoken report, a volunteer
    rung, a sign-up for text alerts."""

    def __init__(
        self,
        content: Content,
        conversation: Conversation,
        reports: Reports | None,
        hotline: Hotline,
        metrics: Metrics,
        *,
        auth_token: str,
        public_url: str,
        caller_id: str | None,
        deletions: Deletions | None = None,
    ) -> None:
        self.content = content
        self.conversation = conversation
        self.reports = reports
        self.hotline = hotline
        self.metrics = metrics
        self.validator = RequestValidator(auth_token)
        self.public = public_url.rstrip("/")  # PUBLIC_URL: what Twilio signs
        self.caller_id = caller_id  # the hotline's own number: volunteers see it, never callers'
        self.deletions = deletions
        self.steps: dict[str, Step] = {
            "": self._welcome,
            "/language": self._language,
            "/menu": self._menu,
            "/choice": self._choice,
            "/rights": self._rights,
            "/topic": self._topic,
            "/report": self._report,
            "/report/zip": self._report_zip,
            "/report/said": self._report_said,
            "/volunteer": self._volunteer,
            "/dialed": self._dialed,
            "/whisper": self._whisper,
            "/accept": self._accept,
            "/alerts": self._alerts,
            "/alerts/zip": self._alerts_zip,
        }

    def routes(self) -> list[Route]:
        return [Route(PATH + step, self.receive, methods=["POST"]) for step in self.steps]

    async def receive(self, request: Request) -> Response:
        started = time.perf_counter()
        step = request.url.path.removeprefix(PATH)
        query = request.url.query
        url = f"{self.public}{request.url.path}" + (f"?{query}" if query else "")
        form = await signed_form(request, self.validator, url, PATH, self.metrics)
        if form is None:
            return forbidden()
        # A call's first request, sent again: nothing changes (its id also has the call
        # deleted at Twilio once it has ended, with TWILIO_DELETE_MESSAGES).
        first = step == "" and self.deletions is not None
        if first and not await self._arrived(form.get("CallSid", "")):
            self.metrics.rejected.labels(route="replay").inc()
            log.warning("voice webhook: a replay of a handled call ignored")
            return Response(str(VoiceResponse()), media_type=TWIML)
        params = dict(parse_qsl(query))
        try:
            answer = await self.steps[step](form, params)
        except BaseException as exc:
            if not is_failure(exc):
                raise
            self.metrics.errors.labels(channel="voice").inc()
            log.exception("voice step failed", extra={"step": step or "/"})
            return Response(str(VoiceResponse()), status_code=500, media_type=TWIML)
        self.metrics.handle_seconds.labels(channel="voice").observe(time.perf_counter() - started)
        return Response(str(answer), media_type=TWIML)

    # ------------------------------------------------------------------ helpers

    async def _arrived(self, call_sid: str) -> bool:
        return self.deletions is None or await self.deletions.arrived(call_sid)

    def _url(self, step: str, **params: str | int) -> str:
        query = urlencode({k: str(v) for k, v in params.items()})
        return f"{self.public}{PATH}{step}" + (f"?{query}" if query else "")

    def _lang(self, params: dict[str, str]) -> str:
        code = params.get("lang", DEFAULT_LANGUAGE)
        return code if code in self.content.voices else DEFAULT_LANGUAGE

    def _say(self, node: VoiceResponse | Gather, language: str, text: str) -> None:
        voice = self.content.voices[language]
        kwargs = {"language": voice.language}
        if voice.voice:
            kwargs["voice"] = voice.voice
        node.say(shown(text), **kwargs)

    def _(self, language: str, msgid: str) -> str:
        return self.content.lang(language).gettext(msgid)

    def _choices(self, language: str, names: list[str], first: int = 1) -> str:
        pattern = self._(language, N_("For {choice}, press {digit}."))
        return " ".join(
            pattern.format(choice=name, digit=i) for i, name in enumerate(names, start=first)
        )

    # ------------------------------------------------------------------ language

    def _pages(self) -> list[list[str]]:
        """English and Spanish, then the others PAGE at a time (9 turns the page)."""
        others = [code for code in self.content.voices if code not in (DEFAULT_LANGUAGE, "es")]
        first = [code for code in (DEFAULT_LANGUAGE, "es") if code in self.content.voices]
        pages = [first + others[: PAGE - len(first) + 1]]
        rest = others[PAGE - len(first) + 1 :]
        while rest:
            pages.append(rest[:8])
            rest = rest[8:]
        return pages

    async def _welcome(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        return self._language_menu(0)

    def _language_menu(self, page: int) -> VoiceResponse:
        pages = self._pages()
        page = page if page < len(pages) else 0
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self._url("/language", page=page), timeout=5)
        for digit, code in enumerate(pages[page], start=1):
            name = self.content.language_name(code)
            self._say(
                gather,
                code,
                self._(code, N_("For {choice}, press {digit}.")).format(choice=name, digit=digit),
            )
        if len(pages) > 1:
            self._say(
                gather,
                DEFAULT_LANGUAGE,
                self._(DEFAULT_LANGUAGE, N_("For more languages, press 9.")),
            )
        response.append(gather)
        response.redirect(self._url("/language", page=page, again=1))
        return response

    async def _language(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        page = int(params.get("page", "0")) if params.get("page", "0").isdigit() else 0
        digits = form.get("Digits", "")
        pages = self._pages()
        if digits == "9":
            return self._language_menu(page + 1)
        choices = pages[page] if page < len(pages) else pages[0]
        if digits.isdigit() and 1 <= int(digits) <= len(choices):
            language = choices[int(digits) - 1]
            self.metrics.inbound.labels(channel="voice", intent="language").inc()
            await self.hotline.count(language, "call")
            return self._main_menu(language, 0)
        if params.get("again"):
            return self._main_menu(DEFAULT_LANGUAGE, 0)  # no choice twice: English
        return self._language_menu(page)

    # ------------------------------------------------------------------ main menu

    def _main_menu(self, language: str, tries: int) -> VoiceResponse:
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self._url("/choice", lang=language), timeout=6)
        self._say(gather, language, self._(language, MAIN_MENU))
        response.append(gather)
        if tries >= 1:
            # Nothing pressed twice: someone who cannot use the keypad gets a person.
            response.redirect(self._url("/volunteer", lang=language))
        else:
            response.redirect(self._url("/menu", lang=language, tries=tries + 1))
        return response

    async def _menu(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        tries = int(params["tries"]) if params.get("tries", "").isdigit() else 0
        return self._main_menu(self._lang(params), min(tries, 1))

    async def _choice(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        digit = form.get("Digits", "")
        step = {"1": "/rights", "2": "/report", "3": "/volunteer", "4": "/alerts"}.get(digit)
        self.metrics.inbound.labels(channel="voice", intent=f"menu:{digit or 'none'}").inc()
        if step is not None:
            await self.hotline.count(language, step.strip("/"))
        response = VoiceResponse()
        if step is None:
            if digit != "9":
                self._say(response, language, self._(language, N_("Sorry, I did not get that.")))
            response.redirect(self._url("/menu", lang=language))
        else:
            response.redirect(self._url(step, lang=language))
        return response

    # ------------------------------------------------------------------ 1 rights

    async def _rights(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        response = VoiceResponse()
        if not params.get("topics"):
            rights = self.content.rights_in(language)
            self._say(response, language, rights.voice_summary)
        gather = Gather(action=self._url("/topic", lang=language), timeout=3, finish_on_key="#")
        titles = [self.content.topic(language, key).title for key in TOPIC_KEYS]
        self._say(gather, language, self._choices(language, titles))
        self._say(gather, language, self._(language, N_("To go back to the menu, press 0.")))
        response.append(gather)
        response.redirect(self._url("/menu", lang=language))
        return response

    async def _topic(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        digits = form.get("Digits", "")
        response = VoiceResponse()
        if digits.isdigit() and 1 <= int(digits) <= len(TOPIC_KEYS):
            topic = self.content.topic(language, TOPIC_KEYS[int(digits) - 1])
            self._say(response, language, f"{topic.title}. {topic.voice}")
            response.redirect(self._url("/rights", lang=language, topics=1))
        else:
            response.redirect(self._url("/menu", lang=language))
        return response

    # ------------------------------------------------------------------ 2 report

    async def _report(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        response = VoiceResponse()
        if self.reports is None:
            response.redirect(self._url("/volunteer", lang=language))
            return response
        return self._ask_zip(
            language, N_("Enter the ZIP code of the place on the keypad."), "/report/zip"
        )

    async def _report_zip(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        zip_code = form.get("Digits", "")
        response = VoiceResponse()
        if self.content.zones.name_of(zip_code) is None:
            self._say(response, language, self._(language, N_("That ZIP code is not in our area.")))
            response.redirect(self._url("/menu", lang=language))
            return response
        gather = Gather(
            input="speech",
            language=self.content.voices[language].language,
            speech_timeout="auto",
            action=self._url("/report/said", lang=language, zip=zip_code),
        )
        self._say(gather, language, self._(language, REPORT_PROMPT))
        response.append(gather)
        response.redirect(self._url("/menu", lang=language))
        return response

    async def _report_said(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        response = VoiceResponse()
        said = shown(form.get("SpeechResult", ""))[:SPEECH_LENGTH]
        caller, zip_code = form.get("From", ""), params.get("zip", "")
        key = f"{form.get('CallSid', '')}/report"
        if self.reports is None or not said or self.content.zones.name_of(zip_code) is None:
            self._say(response, language, self._(language, N_("Sorry, I did not get that.")))
            response.redirect(self._url("/menu", lang=language))
            return response
        if self.deletions is not None and not await self.deletions.first_time(key):
            response.redirect(self._url("/menu", lang=language))  # this report is in already
            return response
        number = await self.reports.take_spoken(caller, language, zip_code, said)
        self.metrics.inbound.labels(channel="voice", intent="report").inc()
        await self.hotline.count(language, "reported" if number is not None else "refused")
        if number is None:
            text = self._(
                language,
                N_("We cannot take another report from this number now. Please call again later."),
            )
        else:
            text = self._(language, REPORT_TAKEN).format(id=number)
        self._say(response, language, text)
        response.redirect(self._url("/menu", lang=language))
        return response

    # ------------------------------------------------------------------ 3 a volunteer

    async def _volunteer(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        numbers = await self.hotline.ringing()
        if not numbers:
            return await self._fallback(language)
        response = VoiceResponse()
        self._say(
            response, language, self._(language, N_("Connecting you to a volunteer. Please wait."))
        )
        dial = Dial(
            caller_id=self.caller_id,
            timeout=RING_SECONDS,
            action=self._url("/dialed", lang=language),
        )
        for number in numbers:
            dial.number(number, url=self._url("/whisper"))
        response.append(dial)
        return response

    async def _fallback(self, language: str) -> VoiceResponse:
        await self.hotline.count(language, "forwarded")
        network = self.content.network
        name = network.in_language(network.hotline_name, language)
        response = VoiceResponse()
        text = self._(
            language, N_("No volunteer can answer right now. We are connecting you to {name}.")
        ).format(name=name)
        self._say(response, language, text)
        response.dial(phone_number(network.fallback_line), caller_id=self.caller_id)
        return response

    async def _dialed(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        if form.get("DialCallStatus") == "completed":
            await self.hotline.count(language, "answered")
            response = VoiceResponse()
            response.hangup()
            return response
        return await self._fallback(language)

    async def _whisper(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """What a volunteer hears before the call is theirs: a voicemail never presses 1."""
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self._url("/accept"), timeout=8)
        gather.say(
            self._(DEFAULT_LANGUAGE, N_("Rapid response hotline call. Press 1 to accept.")),
            language="en-US",
        )
        response.append(gather)
        response.hangup()
        return response

    async def _accept(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        if form.get("Digits") != "1":
            response.hangup()  # not accepted: the others keep ringing
        return response  # empty: the call is bridged

    # ------------------------------------------------------------------ 4 alerts by text

    async def _alerts(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        return self._ask_zip(
            self._lang(params),
            N_("Enter the ZIP code where you live on the keypad."),
            "/alerts/zip",
        )

    def _ask_zip(self, language: str, prompt: str, step: str) -> VoiceResponse:
        """Five digits on the keypad, taken by `step`; nothing pressed: back to the menu."""
        response = VoiceResponse()
        gather = Gather(num_digits=5, action=self._url(step, lang=language), timeout=8)
        self._say(gather, language, self._(language, prompt))
        response.append(gather)
        response.redirect(self._url("/menu", lang=language))
        return response

    async def _alerts_zip(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        zip_code = form.get("Digits", "")
        caller = form.get("From", "")
        response = VoiceResponse()
        name = self.content.zones.name_of(zip_code)
        if name is None:
            self._say(response, language, self._(language, N_("That ZIP code is not in our area.")))
            response.redirect(self._url("/alerts", lang=language))
            return response
        key = f"{form.get('CallSid', '')}/alerts"
        if self.deletions is None or await self.deletions.first_time(key):
            asked = Asked(Intent.SUBSCRIBE, zip_code, keyword_language=language, keyword="JOIN")
            inbound = Inbound(Channel.SMS, caller, asked, text=f"JOIN {zip_code}")
            replies = await self.conversation.handle(inbound)
            await self.hotline.text(caller, language, [reply.text for reply in replies])
            self.metrics.inbound.labels(channel="voice", intent="alerts").inc()
            await self.hotline.count(language, "signed_up")
        self._say(response, language, self._(language, ALERTS_DONE).format(zone=name))
        response.redirect(self._url("/menu", lang=language))
        return response


MAIN_MENU = N_(
    "For your rights, press 1. To report what is happening, press 2. To talk to a volunteer, "
    "press 3. To get alerts by text message at this number, press 4. To hear this again, "
    "press 9."
)
REPORT_PROMPT = N_(
    "After the tone, say what is happening and where: cross streets or a landmark, never a "
    "home address. Nothing is recorded."
)
REPORT_TAKEN = N_(
    "Thank you. Your report number is {id}. Trained volunteers will verify it. We never "
    "share who you are."
)
ALERTS_DONE = N_(
    "Done: verified alerts for {zone} will come by text message to this number. A "
    "confirmation text is on its way; a landline does not receive texts."
)
