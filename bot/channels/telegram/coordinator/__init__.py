"""The coordinator console in Telegram: one module per feature, each the Telegram face of its
core module, behind one router.

- `router.py`: checks the coordinator once, dispatches commands, buttons and flow steps.
- `turn.py`: what every feature works with (the coordinator, their language, their flow).
- `alerts.py` (core/alerts.py: the composer), `approvals.py` (the two-person rule),
  `following.py` (/status and the summary once an alert is done), `reports.py`
  (core/reports.py), `workshops.py` (core/workshops.py), `team.py` (core/coordinators.py:
  the team, invites and duty), `signoffs.py` (core/signoffs.py: a second person's yes to an
  announcement, a removal or a new admin).

Button data is typed in bot/channels/telegram/buttons.py; flows live in bot/core/flows.py.
"""

from __future__ import annotations

from datetime import tzinfo

from bot.channels.telegram.coordinator.alerts import AlertsFeature
from bot.channels.telegram.coordinator.following import StatusFeature
from bot.channels.telegram.coordinator.reports import ReportsFeature, card_keyboard
from bot.channels.telegram.coordinator.router import Console, Fallback
from bot.channels.telegram.coordinator.signoffs import SignOffsFeature
from bot.channels.telegram.coordinator.team import DutyFeature, HotlineFeature, TeamFeature
from bot.channels.telegram.coordinator.turn import Feature
from bot.channels.telegram.coordinator.workshops import WorkshopsFeature
from bot.core.alerts import Alerts
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.flows import Flows
from bot.core.hotline import Hotline
from bot.core.reports import Reports
from bot.core.workshops import Workshops

__all__ = ["Console", "TeamFeature", "build_console", "card_keyboard"]


def build_console(
    coordinators: Coordinators,
    flows: Flows,
    alerts: Alerts,
    content: Content,
    fallback: Fallback,
    *,
    timezone: tzinfo,
    reports: Reports | None = None,
    workshops: Workshops | None = None,
    hotline: Hotline | None = None,
) -> tuple[Console, TeamFeature]:
    """The console with a feature for each service there is. Note: order matters only for
    /help, which lists the features' commands in this order."""
    composer = AlertsFeature(alerts, coordinators, content, timezone)
    # The coordinators' sign-offs are the application's one (the workshops' too).
    sign_offs = SignOffsFeature(coordinators.signoffs, coordinators, content, workshops)
    team = TeamFeature(coordinators, content, sign_offs)
    features: list[Feature] = [composer, composer.approvals, StatusFeature(alerts)]
    if reports is not None:
        features.append(ReportsFeature(reports, alerts, composer, coordinators, content))
    if workshops is not None:
        features.append(WorkshopsFeature(workshops, content, sign_offs))
    features += [team, sign_offs, DutyFeature(coordinators, content)]
    if hotline is not None:
        features.append(HotlineFeature(hotline))
    return Console(coordinators, flows, content, features, fallback), team
