"""Know your rights: the summary and its topics, each with the hotline."""

from __future__ import annotations

from bot.core.content import TOPIC_KEYS
from bot.core.conversation.messages import Choice, Reply
from bot.core.conversation.turn import BaseTurn
from bot.core.intents import Intent, Request
from bot.core.parse import number


class RightsAnswers(BaseTurn):
    """Answers to RIGHTS and to a topic (its number on SMS, its button on Telegram)."""

    async def rights(self) -> list[Reply]:
        rights = self.content.rights_in(self.lang.code)
        if self.sms:
            # Two texts: the summary with the hotline, then the numbered topics.
            texts = self.content.sms_rights(self.lang.code)
            return [Reply(texts["summary"]), Reply(texts["menu"])]
        choices = tuple(
            Choice(self.content.topic(self.lang.code, key).title, Request(Intent.RIGHTS_TOPIC, key))
            for key in TOPIC_KEYS
        )
        return [Reply(self._with_hotline(rights.summary_telegram), choices)]

    async def rights_topic(self) -> list[Reply]:
        arg = self.request.arg or ""
        n = number(arg, largest=len(TOPIC_KEYS))
        key = TOPIC_KEYS[n - 1] if n else arg
        if key not in TOPIC_KEYS:
            return await self.rights()
        topic = self.content.topic(self.lang.code, key)
        if self.sms:
            return [Reply(self.content.sms_rights(self.lang.code)[key])]
        back = (Choice(self._("All topics"), Request(Intent.RIGHTS)),)
        return [Reply(self._with_hotline(f"{topic.title}\n\n{topic.telegram}"), back)]

    def _with_hotline(self, text: str) -> str:
        network = self.content.network
        name = network.in_language(network.hotline_name, self.lang.code)
        return f"{text}\n\n{name}: {network.hotline}"
