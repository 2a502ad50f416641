"""`POST /twilio/voice` and its steps under `/twilio/voice/…`: the hotline as a caller hears it.

Every request is signed by Twilio (else 403) and answered at once with TwiML. What a step
needs from the ones before (the language, a report's number, how often the menu went unanswered)
travels in its URL's query, which Twilio signs too; nothing of a call is kept but the
report it may leave and the sign-up it may ask for. The caller's number is used for the
report limits (the reporter's blind index), the sign-up and the texts it sends, and is never
logged. No recording is made: a spoken report is Twilio's transcript, kept as a report's text.

Menus (design.md): the language first (1 English, 2 Español, then config/voice.yaml's order,
9 for more), then 1 rights, 2 report, 3 a volunteer, 4 alerts by text, 9 repeat. A help
request's call-back (callback.py places it) is answered here too: /callback, /callback/accept.

Why one module over 500 lines: the steps are one call's state machine, each naming the next
by URL and handing it the query; read top to bottom they are what a caller hears, and they
share the signing, the prompts and the language.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from bot.channels.sms.webhook import forbidden, signed_form
from bot.core import phone
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
RING_SECONDS = 25  # how long volunteers are rung before the call goes to the fallback line
SPEECH_LENGTH = 1000  # characters of a spoken report kept
ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}  # a call's final statuses
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
            "/status": self._status,
            "/callback": self._callback,
            "/callback/accept": self._callback_accept,
        }

    def routes(self) -> list[Route]:
        return [
            *(Route(PATH + step, self.receive, methods=["POST"]) for step in self.steps),
            Route(PATH + "/audio/{language}/{name}", self.audio, methods=["GET", "HEAD"]),
        ]

    async def audio(self, request: Request) -> Response:
        """A recorded prompt, as <Play> fetches it: only files content loaded, by key (a
        name from the URL is looked up, never joined to a path)."""
        language, name = request.path_params["language"], request.path_params["name"]
        voice = self.content.voices.get(language)
        stem, _, ending = name.rpartition(".")
        recording = voice.recordings.get(stem) if voice is not None else None
        if recording is None or recording.path.suffix != f".{ending}":
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(
            recording.path,
            media_type=recording.media_type,
            # The URL carries the file's fingerprint: a new recording gets a new URL.
            headers={"Cache-Control": "public, max-age=86400"},
        )

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

    def _speak(
        self, node: VoiceResponse | Gather, language: str, key: str, **slots: str | int
    ) -> None:
        """Prompt `key` (bot/core/phone.py): the network's recording where there is one,
        else spoken by the language's voice (English's where it has none)."""
        voice = self.content.voices.get(language)
        recording = voice.recordings.get(key) if voice is not None else None
        if recording is not None:
            node.play(self._audio(language, key))
            return
        if voice is None or voice.language is None:
            language, voice = DEFAULT_LANGUAGE, self.content.voices[DEFAULT_LANGUAGE]
        kwargs = {"language": voice.language or "en-US"}
        if voice.voice:
            kwargs["voice"] = voice.voice
        node.say(shown(phone.text(self.content, language, key, **slots)), **kwargs)

    def _ask(
        self, response: VoiceResponse, gather: Gather, language: str, key: str
    ) -> VoiceResponse:
        """`gather` asking with prompt `key`; nothing given: back to the menu."""
        self._speak(gather, language, key)
        response.append(gather)
        response.redirect(self._url("/menu", lang=language))
        return response

    def _audio(self, language: str, key: str) -> str:
        recording = self.content.voices[language].recordings[key]
        return self._url(f"/audio/{language}/{key}{recording.path.suffix}", v=recording.version)

    def _speaks(self, language: str) -> bool:
        voice = self.content.voices.get(language)
        return voice is not None and voice.speaks

    # ------------------------------------------------------------------ language

    def _pages(self) -> list[list[str]]:
        return phone.language_pages(list(self.content.voices))

    async def _welcome(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        return self._language_menu(0)

    def _language_menu(self, page: int) -> VoiceResponse:
        pages = self._pages()
        page = page if page < len(pages) else 0
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self._url("/language", page=page), timeout=5)
        for digit, code in enumerate(pages[page], start=1):
            if "choose" in self.content.voices[code].recordings:
                self._speak(gather, code, "choose")
                self._speak(gather, code, phone.press_prompt(digit))
            else:
                name = self.content.language_name(code)
                self._speak(gather, code, "choose", choice=name, digit=digit)
        if len(pages) > 1:
            self._speak(gather, DEFAULT_LANGUAGE, "more")
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
        self._speak(gather, language, "menu")
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
                self._speak(response, language, "sorry")
            response.redirect(self._url("/menu", lang=language))
        else:
            response.redirect(self._url(step, lang=language))
        return response

    # ------------------------------------------------------------------ 1 rights

    async def _rights(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        response = VoiceResponse()
        if not params.get("topics"):
            self._speak(response, language, "summary")
        gather = Gather(action=self._url("/topic", lang=language), timeout=3, finish_on_key="#")
        return self._ask(response, gather, language, "topics")

    async def _topic(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        digits = form.get("Digits", "")
        response = VoiceResponse()
        if digits.isdigit() and 1 <= int(digits) <= len(TOPIC_KEYS):
            self._speak(response, language, phone.topic_prompt(TOPIC_KEYS[int(digits) - 1]))
            response.redirect(self._url("/rights", lang=language, topics=1))
        else:
            response.redirect(self._url("/menu", lang=language))
        return response

    # ------------------------------------------------------------------ 2 report

    async def _report(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """What is happening and where, said; then the ZIP code on the keypad."""
        language = self._lang(params)
        response = VoiceResponse()
        if self.reports is None or not self._speaks(language):
            # No speech recognition for the language: a volunteer takes the report.
            response.redirect(self._url("/volunteer", lang=language))
            return response
        gather = Gather(
            input="speech",
            language=self.content.voices[language].language,
            speech_timeout="auto",
            action=self._url("/report/said", lang=language),
        )
        return self._ask(response, gather, language, "report-say")

    async def _report_said(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """The transcript, held as the caller's draft (sent to nobody yet); the ZIP next."""
        language = self._lang(params)
        response = VoiceResponse()
        said = shown(form.get("SpeechResult", ""))[:SPEECH_LENGTH]
        key = f"{form.get('CallSid', '')}/report"
        if self.reports is None or not said:
            self._speak(response, language, "sorry")
            response.redirect(self._url("/menu", lang=language))
            return response
        if self.deletions is not None and not await self.deletions.first_time(key):
            response.redirect(self._url("/menu", lang=language))  # this report is in already
            return response
        number = await self.reports.hold_spoken(form.get("From", ""), language, said)
        if number is None:
            await self.hotline.count(language, "refused")
            self._speak(response, language, "report-refused")
            response.redirect(self._url("/menu", lang=language))
            return response
        response.append(self._report_zip_gather(language, number, tries=0))
        return response

    def _report_zip_gather(self, language: str, number: int, tries: int) -> Gather:
        # Nothing keyed still sends the report (actionOnEmptyResult): its place was said.
        gather = Gather(
            num_digits=5,
            timeout=8,
            action_on_empty_result=True,
            action=self._url("/report/zip", lang=language, report=number, tries=tries),
        )
        self._speak(gather, language, "report-zip")
        return gather

    async def _report_zip(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """The report goes to the zone's coordinators (a ZIP code outside the area is asked
        once more, then the report goes without one, to every coordinator)."""
        language = self._lang(params)
        number = params.get("report", "")
        tries = params.get("tries", "0")
        digits = form.get("Digits", "")
        zone = digits if self.content.zones.name_of(digits) is not None else None
        response = VoiceResponse()
        if self.reports is None or not (number.isascii() and number.isdigit()):
            response.redirect(self._url("/menu", lang=language))
            return response
        if zone is None and digits and tries == "0":
            self._speak(response, language, "outside")
            response.append(self._report_zip_gather(language, int(number), tries=1))
            return response
        taken = await self.reports.place_spoken(int(number), form.get("From", ""), zone)
        if taken is not None:
            self.metrics.inbound.labels(channel="voice", intent="report").inc()
            await self.hotline.count(language, "reported")
            self._speak(response, language, "report-taken", id=taken)
        response.redirect(self._url("/menu", lang=language))
        return response

    # ------------------------------------------------------------------ 3 a volunteer

    async def _volunteer(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        numbers = await self.hotline.ringing()
        if not numbers:
            return await self._fallback(language)
        response = VoiceResponse()
        self._speak(response, language, "connecting")
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
        response = VoiceResponse()
        self._speak(response, language, "fallback")
        response.dial(phone_number(self.content.network.fallback_line), caller_id=self.caller_id)
        return response

    async def _dialed(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        if form.get("DialCallStatus") == "completed":
            await self.hotline.count(language, "answered")
            talked = form.get("DialCallDuration", "")
            if talked.isascii() and talked.isdigit():
                await self.hotline.lasted(language, "talk", int(talked))
            response = VoiceResponse()
            response.hangup()
            return response
        return await self._fallback(language)

    async def _whisper(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """What a volunteer hears before the call is theirs: a voicemail never presses 1."""
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self._url("/accept"), timeout=8)
        gather.say(
            self.content.lang(DEFAULT_LANGUAGE).gettext(
                N_("Rapid response hotline call. Press 1 to accept.")
            ),
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

    # ------------------------------------------------------------------ a help call-back

    async def _callback(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """The coordinator picked up a call-back Twilio placed (CallBack): they press 1 to be
        connected, so a voicemail never takes it."""
        report = params.get("report", "")
        response = VoiceResponse()
        if not report.isascii() or not report.isdigit():
            response.hangup()
            return response
        gather = Gather(
            num_digits=1, action=self._url("/callback/accept", report=report), timeout=8
        )
        gather.say(
            self.content.lang(DEFAULT_LANGUAGE)
            .gettext(
                N_("Rapid response call-back for help request {id}. Press 1 to call them now.")
            )
            .format(id=report),
            language="en-US",
        )
        response.append(gather)
        response.hangup()
        return response

    async def _callback_accept(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """Pressed 1: the person is dialled from the hotline's number, if their help request
        is still open (closed meanwhile: the coordinator hears so). Once per call: the answer
        names the person's number, so a replayed request gets none."""
        report = params.get("report", "")
        response = VoiceResponse()
        callee = None
        key = f"{form.get('CallSid', '')}/callback"
        first = self.deletions is None or await self.deletions.first_time(key)
        if first and form.get("Digits") == "1" and report.isascii() and report.isdigit():
            callee = await self.reports.callee(int(report)) if self.reports else None
        if callee is None:
            response.say(
                self.content.lang(DEFAULT_LANGUAGE).gettext(
                    N_("This help request is closed, or the call was not accepted. Goodbye.")
                ),
                language="en-US",
            )
            response.hangup()
            return response
        response.dial(callee, caller_id=self.caller_id, timeout=RING_SECONDS)
        return response

    # ------------------------------------------------------------------ when a call ends

    async def _status(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        """The number's "call status changes" webhook: a call's length, counted once (a
        replay counts nothing). Its language is not known here: counted under "all"."""
        lasted = form.get("CallDuration", "")
        final = form.get("CallStatus") == "completed" and lasted.isascii() and lasted.isdigit()
        key = f"{form.get('CallSid', '')}/status"
        if final and (self.deletions is None or await self.deletions.first_time(key)):
            await self.hotline.lasted("all", "call", int(lasted))
        if self.reports is not None and form.get("CallStatus") in ENDED:
            # Hung up after saying what happens, before the ZIP code: it goes as it is.
            await self.reports.send_unplaced(form.get("From", ""))
        return VoiceResponse()

    # ------------------------------------------------------------------ 4 alerts by text

    async def _alerts(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        return self._ask_zip(self._lang(params), "alerts-zip", "/alerts/zip")

    def _ask_zip(self, language: str, prompt: str, step: str) -> VoiceResponse:
        """Five digits on the keypad, taken by `step`; nothing pressed: back to the menu."""
        gather = Gather(num_digits=5, action=self._url(step, lang=language), timeout=8)
        return self._ask(VoiceResponse(), gather, language, prompt)

    async def _alerts_zip(self, form: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        language = self._lang(params)
        zip_code = form.get("Digits", "")
        caller = form.get("From", "")
        response = VoiceResponse()
        name = self.content.zones.name_of(zip_code)
        if name is None:
            self._speak(response, language, "outside")
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
        self._speak(response, language, "alerts-done", zone=name)
        response.redirect(self._url("/menu", lang=language))
        return response
