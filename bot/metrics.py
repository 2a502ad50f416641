"""Prometheus metrics, in a registry of the process's own (nothing registered at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Counters and timings that say how the bot is doing, never who it is talking to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "rrbot_inbound_messages",
            "Messages received, by channel and what they asked for",
            ["channel", "intent"],
            registry=self.registry,
        )
        self.replies = Counter(
            "rrbot_replies", "Direct replies sent, by channel", ["channel"], registry=self.registry
        )
        self.rejected = Counter(
            "rrbot_webhooks_rejected",
            "Webhook calls refused (bad signature or secret, a replay), by route",
            ["route"],
            registry=self.registry,
        )
        self.errors = Counter(
            "rrbot_handler_errors",
            "Inbound messages whose handling failed, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.set_aside = Counter(
            "rrbot_inbox_set_aside",
            "Updates set aside in the inbox (unreadable, or their handling failed three times), "
            "by channel and why; `rrbot inbox list` shows them",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.inbox = Gauge(
            "rrbot_inbox_entries",
            "Updates in the inbox by status (pending, done, set_aside), as of the last sweep",
            ["status"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "rrbot_handle_seconds",
            "Time to answer an inbound message, by channel",
            ["channel"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
