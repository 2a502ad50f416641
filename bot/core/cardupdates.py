"""Cards that keep up (issue 19, point 3): a report's cards show how many people saw the
same thing nearby, and that grows as reports arrive. When a report is submitted, the cards
of the open reports near it are brought up to date through the outbox: one still queued is
resealed with the new text, one a coordinator has is edited (an older unsent edit of it is
superseded, so only the latest state lands). One a worker is sending at that very moment
stays as it was rendered until the next report near it, or an action on it.
"""

from __future__ import annotations

from bot.core.cards import card_ref
from bot.core.helprequests import HelpRequests
from bot.core.reporting import OPEN
from bot.core.vocabulary import Channel
from bot.storage.db import Session
from bot.storage.outbox import ButtonRows, Outbox
from bot.storage.reports import ReportRows

REFRESHED = 5  # nearby reports (the newest) whose cards a new report's arrival edits


class CardUpdates(HelpRequests):
    """Bringing a report's cards up to date; `Reports` draws them."""

    async def _refresh_cards(self, session: Session, report_id: int) -> None:
        """An open report's cards brought up to date as reports near it arrive: one still
        queued gets the new text, one a coordinator has is edited through the outbox (older
        unsent edits dropped). One being sent this very moment stays as rendered until the
        next report near it, or an action on it."""
        rows = ReportRows(session)
        row = await rows.get(report_id)
        if row is None or row.status not in OPEN:
            return
        view = await self._view(session, row)
        outbox, now = Outbox(session), self.clock()

        async def rendered(coordinator_id: int | None) -> tuple[str, str, ButtonRows] | None:
            holder = await rows.coordinator(coordinator_id) if coordinator_id else None
            if holder is None or not holder.active:
                return None
            language = self.content.supported(holder.language)
            return language, *self.card(view, self.content.lang(language), holder.id)

        for queued in await outbox.queued_notices(card_ref(report_id)):
            if (card := await rendered(queued.coordinator_id)) is not None:
                text = self.content.out(Channel.TELEGRAM, card[0], card[1])
                outbox.reseal(queued, self.vault, text, card[2], now)
        await outbox.supersede(f"cardedit:{report_id}", now)
        for sent in await outbox.sent_notices(card_ref(report_id)):
            if (card := await rendered(sent.coordinator_id)) is not None:
                language, text, buttons = card
                await self._notice(session, Channel.TELEGRAM, language, text,
                                   coordinator_id=sent.coordinator_id, ref=f"cardedit:{report_id}",
                                   buttons=buttons, priority=1, edits=sent.provider_id)  # fmt: skip
