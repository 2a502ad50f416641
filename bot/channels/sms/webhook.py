"""`POST /twilio/sms`: check Twilio's signature, answer with TwiML."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.sms.inbound import read_inbound
from bot.core.content import Content
from bot.core.conversation import Conversation, Reply
from bot.core.errors import is_failure
from bot.core.text import for_sms
from bot.delivery.deletions import Deletions
from bot.delivery.pacing import Pacer
from bot.delivery.receipts import Receipts
from bot.metrics import Metrics

log = logging.getLogger(__name__)

PATH = "/twilio/sms"
STATUS_PATH = "/twilio/status"
TWIML = "application/xml"
REPLY_QUERY = "of=reply"


def forbidden() -> Response:
    return Response("forbidden", status_code=403, media_type="text/plain")


def render_twiml(replies: list[Reply], status_url: str | None = None) -> str:
    """The replies as TwiML; with `status_url`, Twilio reports each reply's status there
    (`action`), which gives the reply's sid, to delete it at Twilio once final."""
    response = MessagingResponse()
    for reply in replies:
        text = for_sms(reply.text)
        if status_url is None:
            response.message(text)
        else:
            response.message(text, action=status_url)
    return str(response)


async def signed_form(
    request: Request, validator: RequestValidator, url: str, route: str, metrics: Metrics
) -> dict[str, str] | None:
    """The form Twilio posted to `url`, or None (and a counted refusal) if its signature is
    wrong: SMS, status and voice webhooks alike."""
    # Twilio posts application/x-www-form-urlencoded; parse_qsl keeps python-multipart out.
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not validator.validate(url, form, signature):
        metrics.rejected.labels(route=route).inc()
        log.warning("twilio webhook refused: bad or missing signature", extra={"route": route})
        return None
    return form


class SmsWebhook:
    """Inbound SMS: refused with 403 unless signed by Twilio for PUBLIC_URL + path."""

    def __init__(
        self,
        conversation: Conversation,
        content: Content,
        metrics: Metrics,
        *,
        auth_token: str,
        public_url: str,
        receipts: Receipts | None = None,
        status_url: str | None = None,
        pacer: Pacer | None = None,
        deletions: Deletions | None = None,
    ) -> None:
        self.conversation = conversation
        self.content = content
        self.metrics = metrics
        self.validator = RequestValidator(auth_token)
        # Twilio signs the URL it called; behind a proxy only PUBLIC_URL knows it.
        self.url = public_url
        self.receipts = receipts
        self.status_url = status_url
        self.pacer = pacer
        # Each inbound message's id is kept to refuse replays and, with TWILIO_DELETE_MESSAGES,
        # scheduled for deletion at Twilio before it is handled (so a crash while handling
        # leaves no copy there); each reply is deleted once final (bot/delivery/deletions.py).
        self.replays = deletions
        self.deletions = deletions if deletions is not None and deletions.enabled else None

    def routes(self) -> list[Route]:
        routes = [Route(PATH, self.receive, methods=["POST"])]
        if self.receipts is not None:
            routes.append(Route(STATUS_PATH, self.status, methods=["POST"]))
        return routes

    async def status(self, request: Request) -> Response:
        """Twilio's delivery report for a message we sent: late, repeated or out of order."""
        if self.receipts is None or self.status_url is None:
            return forbidden()
        # A TwiML reply's report comes to the same path marked `?of=reply` (signed with it):
        # a reply is no delivery, only a message to delete at Twilio once final.
        reply = request.url.query == REPLY_QUERY
        url = f"{self.status_url}?{REPLY_QUERY}" if reply else self.status_url
        form = await self.signed_form(request, url, STATUS_PATH)
        if form is None:
            return forbidden()
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if reply:
            await self.receipts.reply(sid, status)
        else:
            await self.receipts.twilio(sid, status, form.get("ErrorCode") or None)
        # 200 whatever we made of it: Twilio would only retry the same report.
        return Response(status_code=200)

    async def signed_form(self, request: Request, url: str, route: str) -> dict[str, str] | None:
        return await signed_form(request, self.validator, url, route, self.metrics)

    async def receive(self, request: Request) -> Response:
        started = time.perf_counter()
        form = await self.signed_form(request, self.url, PATH)
        if form is None:
            return forbidden()
        if self.replays is not None and not await self.replays.arrived(form.get("MessageSid", "")):
            # Handled before: a signed request sent again. Nothing changes, nothing is said.
            self.metrics.rejected.labels(route="replay").inc()
            log.warning("sms webhook: a replay of a handled message ignored")
            return Response(render_twiml([]), media_type=TWIML)
        inbound = read_inbound(form, self.content, self.conversation.opt_in_keywords)
        if inbound is None:
            log.info("sms from an invalid number ignored")
            return Response(render_twiml([]), media_type=TWIML)
        self.metrics.inbound.labels(channel="sms", intent=inbound.request.intent).inc()
        try:
            replies = await self.conversation.handle(inbound)
        except BaseException as exc:
            if not is_failure(exc):
                raise
            self.metrics.errors.labels(channel="sms").inc()
            log.exception("sms handling failed", extra={"intent": str(inbound.request.intent)})
            # 500 makes Twilio log the failure in its console (it does not retry SMS webhooks).
            return Response(render_twiml([]), status_code=500, media_type=TWIML)
        if self.pacer is not None:
            # Twilio sends TwiML replies from the same number (and queues them itself): bulk
            # sends make room for them, and the answer does not wait for the slot.
            for _ in replies:
                await self.pacer.jump_queue(wait=False)
        self.metrics.replies.labels(channel="sms").inc(len(replies))
        self.metrics.handle_seconds.labels(channel="sms").observe(time.perf_counter() - started)
        log.info(
            "sms answered",
            extra={"intent": str(inbound.request.intent), "replies": len(replies)},
        )
        tracked = (
            f"{self.status_url}?{REPLY_QUERY}"
            if self.deletions is not None and self.status_url is not None
            else None
        )
        return Response(render_twiml(replies, tracked), media_type=TWIML)
