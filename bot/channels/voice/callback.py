"""A help request's call-back (core's `CallBackPort`): Twilio rings the coordinator's hotline
phone from the hotline's number and, once they press 1 (a voicemail never does), dials the
person, again from the hotline's number (VoiceWebhook's /callback steps). The call is
scheduled for deletion at Twilio; deleting it is retried until it has ended."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.channels.sms.sender import TwilioSender
from bot.delivery.deletions import Deletions

log = logging.getLogger(__name__)

CALLBACK_PATH = "/twilio/voice/callback"


class CallBack:
    def __init__(
        self,
        twilio: TwilioSender,
        caller_id: str,
        public_url: str,
        deletions: Deletions | None = None,
    ) -> None:
        self.twilio = twilio
        self.caller_id = caller_id  # the hotline's number: the only one either side sees
        self.url = f"{public_url.rstrip('/')}{CALLBACK_PATH}"
        self.deletions = deletions

    async def start(self) -> None:
        """A web component: nothing to start (the Twilio client connects on first use)."""

    async def stop(self) -> None:
        await self.twilio.close()

    async def __call__(self, phone: str, report_id: int) -> str | None:
        sid, error = await self.twilio.call(phone, self.caller_id, f"{self.url}?report={report_id}")
        if error is not None:
            log.warning("call-back not placed", extra={"error": error})
            return error
        if sid is not None and self.deletions is not None:
            await self.deletions.schedule([sid], after=timedelta(minutes=5))
        return None
