"""The `rrbot` command: run the bot, migrate the database, and look after subscribers.

Why one module over 500 lines: Typer's command tree is read top to bottom as the `--help`
a network's operator sees; each command is a thin function over a core service, and the
shared parsing (zones, durations, local times) comes from bot.core.parse.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.core.alerts import AlertDraft, AlertError, Preview
from bot.core.audit import Actor
from bot.core.content import TOPIC_KEYS, Content, ContentError, load_content
from bot.core.coordinators import Coordinator, CoordinatorError
from bot.core.hotline import HotlineError, Volunteer
from bot.core.parse import ROW_ID, ParseError, clock, duration, local_time, zone_list
from bot.core.vocabulary import AlertKind, Channel, InboxStatus, Role
from bot.core.workshops import DEFAULT_MINUTES, WorkshopError, WorkshopPlan, series
from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from bot.storage.keycheck import KeyMismatch, check_ready
from bot.storage.migrate import SchemaOutOfDate

if TYPE_CHECKING:
    from bot.app import Services
    from bot.core.reports import ReportView

app = typer.Typer(
    help="Rapid Response Bot: verified alerts and know-your-rights answers by Telegram and SMS.",
    no_args_is_help=True,
    add_completion=False,
    # Typer's pretty tracebacks print every frame's local variables: settings, keys, numbers.
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
subscribers_app = typer.Typer(
    help="Subscribers, as counts (never a number or chat id).", no_args_is_help=True
)
coordinators_app = typer.Typer(help="Coordinators and admins.", no_args_is_help=True)
alerts_app = typer.Typer(help="Send and follow alerts.", no_args_is_help=True)
reports_app = typer.Typer(
    help="Community reports, by number (never the text or who sent it).", no_args_is_help=True
)
stats_app = typer.Typer(
    help="Counts to publish, with small counts suppressed.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(coordinators_app, name="coordinators")
app.add_typer(alerts_app, name="alerts")
app.add_typer(reports_app, name="reports")
app.add_typer(stats_app, name="stats")
workshops_app = typer.Typer(help="Know-your-rights workshops.", no_args_is_help=True)
app.add_typer(workshops_app, name="workshops")
inbox_app = typer.Typer(
    help="Telegram updates stored until handled, and the ones set aside (never their content).",
    no_args_is_help=True,
)
app.add_typer(inbox_app, name="inbox")
keys_app = typer.Typer(help="DATA_KEY: rotation.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
hotline_app = typer.Typer(
    help="The hotline's volunteers (their numbers are never shown).", no_args_is_help=True
)
app.add_typer(hotline_app, name="hotline")
content_app = typer.Typer(help="The texts in config/: languages and rights.", no_args_is_help=True)
app.add_typer(content_app, name="content")

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        errors.print(f"[bold red]{exc}[/]", highlight=False)
        errors.print("See config/settings.example.env for every variable.")
        raise typer.Exit(2) from None


@app.command()
def run() -> None:
    """Everything in one process: migrate, then the web server, the channels and a worker."""
    from bot.app import serve
    from bot.storage.migrate import upgrade

    settings = settings_or_exit()
    _prepare_sqlite(settings)
    upgrade(settings.async_database_url)
    serve(settings)


@app.command()
def web() -> None:
    """The web server and the channels (run `rrbot db upgrade` first, e.g. as a release step)."""
    from bot.app import serve

    serve(settings_or_exit(), with_worker=False)


@app.command()
def worker() -> None:
    """A delivery worker alone; run several against one PostgreSQL to send faster."""
    from bot import logs
    from bot.app import run_loop, work

    settings = settings_or_exit()
    logs.configure(settings.log_level)
    try:
        run_loop(work(settings))
    except (KeyMismatch, SchemaOutOfDate) as exc:
        errors.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Where the simulator and the bot listen")] = 8080,
    data: Annotated[Path, typer.Option(help="The demo's database, key and phones")] = Path(
        "var/demo"
    ),
    reset: Annotated[bool, typer.Option("--reset", help="Start over with a fresh network")] = False,
) -> None:
    """The whole bot locally against fake Telegram and Twilio, with a phone simulator at /sim."""
    from bot.demo import demo as run_demo

    run_demo(data, port, reset=reset)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Bring the database schema up to date."""
    from bot.storage.migrate import upgrade

    settings = settings_or_exit()
    _prepare_sqlite(settings)
    upgrade(settings.async_database_url, revision)
    console.print("database is up to date")


@app.command()
def keygen() -> None:
    """Print a new DATA_KEY. To rotate, prepend it: DATA_KEY=new,old."""
    from bot.storage.crypto import generate_key

    console.print(generate_key(), highlight=False)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Seal every stored value under the newest key of DATA_KEY (its first) and remake every
    blind index under it, in batches; run it again after an interruption and it goes on.

    First set DATA_KEY=new,old on every process (`rrbot keygen` makes the new one), then run
    this; once it says so, DATA_KEY can be the new key alone."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bot.storage.rotation import remaining, rotate

    async def job(services: Services) -> tuple[dict[str, int], int]:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def advance(column: str, done: int, total: int) -> None:
                if column not in tasks:
                    tasks[column] = bar.add_task(column, total=total)
                bar.update(tasks[column], completed=done, total=max(total, done))

            changed = await rotate(services.db, services.vault, advance)
        return changed, await remaining(services.db, services.vault)

    changed, left = with_services(job)
    for column, n in changed.items():
        if n:
            console.print(f"{column}: {n} sealed anew")
    if left:
        errors.print(
            f"[bold red]{left} value(s) are still under an older key (written meanwhile by a "
            "process without the new key?): run rrbot keys rotate again.[/]"
        )
        raise typer.Exit(1)
    console.print(
        "Every stored value is under the newest key. DATA_KEY can now be that key alone "
        "(its first); restart every process after changing it."
    )


@subscribers_app.command("stats")
def subscribers_stats(
    by: Annotated[
        str, typer.Option(help="Comma-separated columns: channel, language, zone, status")
    ] = "channel,language,status",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Counts of subscribers by channel, language, zone and status."""
    columns = [part.strip() for part in by.split(",") if part.strip()]
    unknown = set(columns) - {"channel", "language", "zone", "status"}
    if unknown or not columns:
        errors.print(f"--by: unknown column(s) {', '.join(sorted(unknown)) or '(none)'}")
        raise typer.Exit(2)
    totals: Counter[tuple[str, ...]] = Counter()
    for row in with_services(lambda services: services.directory.stats()):
        totals[tuple(str(getattr(row, column) or "-") for column in columns)] += row.count
    if as_json:
        data = [
            dict(zip(columns, key, strict=True)) | {"count": n} for key, n in sorted(totals.items())
        ]
        console.print_json(json.dumps(data))
        return
    table = Table(*columns, "count", title="Subscribers")
    for key, n in sorted(totals.items()):
        table.add_row(*key, str(n))
    table.add_row(*(["total"] + [""] * (len(columns) - 1)), str(sum(totals.values())), style="bold")
    console.print(table)


def with_services(job: Callable[[Services], Awaitable[T]]) -> T:
    """Run `job` with the process's services against the configured database, then close it."""
    from bot.app import build_services

    settings = settings_or_exit()
    sqlite = settings.sqlite_path
    if sqlite is not None and not sqlite.exists():
        # Nothing to read: say so, and create nothing (no directory, no empty database).
        errors.print(
            "[bold red]The database at DATABASE_URL does not exist yet: "
            "run `rrbot db upgrade` first.[/]"
        )
        raise typer.Exit(2)  # as for a database not yet upgraded

    async def go() -> T:
        services = build_services(settings)
        try:
            await check_ready(services.db, services.vault)  # unreachable: the job says so
            return await job(services)
        finally:
            await services.db.close()

    try:
        return asyncio.run(go())
    except (AlertError, CoordinatorError, HotlineError, WorkshopError) as exc:
        errors.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    except (KeyMismatch, SchemaOutOfDate) as exc:
        errors.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    except (OSError, InterfaceError, OperationalError) as exc:
        # One line, by type: the driver's message can name the host and the user.
        errors.print(
            f"[bold red]The database at DATABASE_URL did not answer ({type(exc).__name__}).[/]"
        )
        raise typer.Exit(1) from None


@coordinators_app.command("add")
def coordinators_add(
    telegram_id: Annotated[
        int, typer.Option(help="Their Telegram user id (they can ask @userinfobot)")
    ],
    role: Annotated[Role, typer.Option(help="admin or coordinator")] = Role.COORDINATOR,
    label: Annotated[str, typer.Option(help="A name for the audit log, e.g. 'Rosa, Pilsen'")] = "",
) -> None:
    """Make someone a coordinator (or admin); they use the bot's coordinator commands in Telegram."""

    async def job(services: Services) -> Coordinator:
        return await services.coordinators.add(
            telegram_id, role, label or f"coordinator {telegram_id % 1000:03d}", Actor.operator()
        )

    added = with_services(job)
    console.print(f"coordinator #{added.id} ({added.role}) added: {added.label}")


@coordinators_app.command("list")
def coordinators_list() -> None:
    """Active coordinators: number, label, role, on duty."""
    found = with_services(lambda services: services.coordinators.all())
    table = Table("#", "label", "role", "on duty", title="Coordinators")
    for c in found:
        table.add_row(str(c.id), c.label, str(c.role), "yes" if c.on_duty else "no")
    console.print(table)


@coordinators_app.command("remove")
def coordinators_remove(
    coordinator: Annotated[int, typer.Argument(help="The # from `list`", min=1, max=ROW_ID)],
) -> None:
    """Take away someone's coordinator rights (kept in the audit log)."""
    with_services(lambda services: services.coordinators.remove(coordinator, Actor.operator()))
    console.print(f"coordinator #{coordinator} removed")


@hotline_app.command("add")
def hotline_add(
    phone: Annotated[str, typer.Option(help="Their phone number (+1 312 555 0123)")],
    label: Annotated[str, typer.Option(help="A name for the list and the audit log")] = "",
) -> None:
    """Add a volunteer the hotline rings when a caller asks for a person (on duty at once)."""

    async def job(services: Services) -> Volunteer:
        return await services.hotline.add(phone, label or "volunteer", Actor.operator())

    added = with_services(job)
    console.print(f"volunteer #{added.id} added, on duty: {added.label}")


@hotline_app.command("list")
def hotline_list() -> None:
    """The volunteers: number in this list, label, on duty (never their phone numbers)."""
    found = with_services(lambda services: services.hotline.volunteers())
    table = Table("#", "label", "on duty", title="Hotline volunteers")
    for v in found:
        table.add_row(str(v.id), v.label, "yes" if v.on_duty else "no")
    console.print(table)


@hotline_app.command("on")
def hotline_on(
    volunteer: Annotated[int, typer.Argument(help="The # from `list`", min=1, max=ROW_ID)],
) -> None:
    """Put a volunteer on duty: calls ring them."""
    with_services(lambda services: services.hotline.set_duty(volunteer, True, Actor.operator()))
    console.print(f"volunteer #{volunteer} on duty")


@hotline_app.command("off")
def hotline_off(
    volunteer: Annotated[int, typer.Argument(help="The # from `list`", min=1, max=ROW_ID)],
) -> None:
    """Take a volunteer off duty: calls no longer ring them."""
    with_services(lambda services: services.hotline.set_duty(volunteer, False, Actor.operator()))
    console.print(f"volunteer #{volunteer} off duty")


@hotline_app.command("remove")
def hotline_remove(
    volunteer: Annotated[int, typer.Argument(help="The # from `list`", min=1, max=ROW_ID)],
) -> None:
    """Remove a volunteer and their number (kept in the audit log without it)."""
    with_services(lambda services: services.hotline.remove(volunteer, Actor.operator()))
    console.print(f"volunteer #{volunteer} removed")


def parse_duration(text: str) -> timedelta:
    """'4h', '90m', '1h30m', '7d' -> a timedelta of more than zero (bot.core.parse)."""
    try:
        return duration(text)
    except ParseError as exc:
        raise typer.BadParameter(str(exc)) from None


@alerts_app.command("send")
def alerts_send(
    zones: Annotated[str, typer.Option(help="ZIP codes, comma-separated, or all")],
    text: Annotated[str, typer.Option(help="The English text (every language falls back to it)")],
    text_es: Annotated[str | None, typer.Option(help="The Spanish text")] = None,
    kind: Annotated[
        AlertKind,
        typer.Option(
            "--type",
            parser=hyphenated(AlertKind),
            metavar="alert|update|correction|all-clear|rumor",
            help="alert, update, correction, all-clear (all_clear works too) or rumor (rumor "
            "control: a post going round is not confirmed)",
        ),
    ] = AlertKind.ALERT,
    refers: Annotated[
        int | None,
        typer.Option(
            help="The alert an update, correction or all-clear follows", min=1, max=ROW_ID
        ),
    ] = None,
    expires: Annotated[str, typer.Option(help="How long it holds, e.g. 4h or 90m")] = "4h",
    check_in: Annotated[
        bool,
        typer.Option("--check-in", help="End with: reply 1 if you are safe, 2 if you need help"),
    ] = False,
    drill: Annotated[
        bool,
        typer.Option(
            "--drill",
            help="A drill: every text begins 'DRILL - no action needed'; DRILLS OFF skips it",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Send without asking")] = False,
) -> None:
    """Send an alert from the server (audited as the operator). Prints the alert's id."""
    texts = {"en": text} | ({"es": text_es} if text_es else {})
    draft = AlertDraft(
        kind=kind,
        zones=parse_zones(zones, settings_or_exit()),
        texts=texts,
        expires_in=parse_duration(expires),
        refers_to=refers,
        check_in=check_in,
        drill=drill,
    )

    async def preview(services: Services) -> tuple[int, Preview]:
        alert = await services.alerts.draft(draft, Actor.operator())
        return alert.id, await services.alerts.preview(alert.id)

    alert_id, seen = with_services(preview)
    print_preview(seen)
    if not yes and not typer.confirm("Send it?"):
        raise typer.Exit(1)
    sent = with_services(lambda services: services.alerts.submit(alert_id, Actor.operator()))
    errors.print(f"alert #{sent.id}: {sent.recipients} deliveries queued")
    console.print(sent.id)


def print_preview(preview: Preview) -> None:
    table = Table("channel", "language", "people", "SMS segments", title="Preview")
    for (channel, language), n in sorted(preview.recipients.items()):
        cost = preview.segments[language]
        sms = f"{cost.segments} ({cost.encoding})" if channel == "sms" else ""
        table.add_row(
            channel,
            language + (" (English text)" if language in preview.fallback else ""),
            str(n),
            sms,
        )
    errors.print(table)
    errors.print(f"{preview.total} people; about {preview.seconds:.0f} s at the provider limits")


@alerts_app.command("status")
def alerts_status(
    alert_id: Annotated[int, typer.Argument(help="The alert's id", min=1, max=ROW_ID)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Queued, sending, sent, delivered, failed and skipped, per channel."""
    progress = with_services(lambda services: services.alerts.progress(alert_id))
    if as_json:
        counts: dict[str, dict[str, int]] = {}
        for (channel, status), n in progress.counts.items():
            counts.setdefault(channel, {})[status] = n
        data = {"id": alert_id, "kind": progress.alert.kind, "status": progress.alert.status,
                "recipients": progress.alert.recipients, "counts": counts,
                "drill": progress.alert.drill}  # fmt: skip
        if progress.check_ins is not None:
            data["check_in"] = dataclasses.asdict(progress.check_ins)
        console.print_json(json.dumps(data))
        return
    statuses = ["queued", "sending", "sent", "delivered", "failed", "skipped"]
    table = Table("channel", *statuses, title=f"Alert #{alert_id} ({progress.alert.status})")
    for channel in sorted({channel for channel, _ in progress.counts}):
        table.add_row(channel, *(str(progress.counts.get((channel, s), 0)) for s in statuses))
    console.print(table)
    answers = progress.check_ins
    if answers is not None:
        console.print(
            f"check-in: safe {answers.safe}, need help {answers.help}, "
            f"no answer {answers.no_answer}"
        )


@alerts_app.command("report")
def alerts_report(
    alert_id: Annotated[int, typer.Argument(help="The alert's id", min=1, max=ROW_ID)],
    chart: Annotated[
        Path | None, typer.Option(help="Where to write the PNG chart (default alert-ID.png)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The delivery curve (seconds from approval to 50, 90, 99 and 100 % of the recipients,
    by channel), failures by reason and check-in answers; writes the curve as a PNG."""
    from bot.core.deliveryreport import MILESTONES, chart_png, delivery_report

    found = with_services(lambda services: delivery_report(services.alerts, alert_id))
    path = chart or Path(f"alert-{alert_id}.png")
    path.write_bytes(chart_png(found))
    curves = {
        name: {"recipients": curve.recipients, "sent": len(curve.seconds),
               **{f"{round(share * 100)}%": curve.at(share) for share in MILESTONES}}
        for name, curve in found.curves.items()
    }  # fmt: skip
    if as_json:
        data: dict[str, object] = {"id": alert_id, "drill": found.alert.drill, "curves": curves,
                                   "failures": found.failures, "pending": found.pending,
                                   "chart": str(path)}  # fmt: skip
        if found.check_ins is not None:
            data["check_in"] = dataclasses.asdict(found.check_ins)
        console.print_json(json.dumps(data))
        return
    marks = [f"{round(share * 100)}%" for share in MILESTONES]
    kind = "drill" if found.alert.drill else str(found.alert.kind)
    table = Table("channel", "recipients", "sent", *marks,
                  title=f"Alert #{alert_id} ({kind}): seconds from approval")  # fmt: skip
    for name, row in curves.items():
        times = [row[m] for m in marks]
        table.add_row(name, str(row["recipients"]), str(row["sent"]),
                      *("-" if t is None else f"{t:.1f}" for t in times))  # fmt: skip
    console.print(table)
    if found.pending:
        console.print(f"still being sent: {found.pending}")
    for reason, n in found.failures.items():
        console.print(f"not delivered, {reason}: {n}")
    if found.check_ins is not None:
        answers = found.check_ins
        console.print(
            f"check-in: safe {answers.safe}, need help {answers.help}, "
            f"no answer {answers.no_answer}"
        )
    console.print(f"chart: {path}")


@alerts_app.command("monthly-drill")
def alerts_monthly_drill(
    day: Annotated[
        int | None, typer.Option(help="Day of the month, 1 to 28", min=1, max=28)
    ] = None,
    at: Annotated[str, typer.Option("--time", help="Time of day, network time (18:00)")] = "18:00",
    zones: Annotated[str, typer.Option(help="ZIP codes, comma-separated, or all")] = "all",
    text: Annotated[
        str | None, typer.Option(help="The English text (every language falls back to it)")
    ] = None,
    text_es: Annotated[str | None, typer.Option(help="The Spanish text")] = None,
    check_in: Annotated[
        bool, typer.Option("--check-in", help="End with: reply 1 if safe, 2 if you need help")
    ] = False,
    off: Annotated[bool, typer.Option("--off", help="No more monthly drill")] = False,
) -> None:
    """The monthly drill: set it (--day and --text), stop it (--off), or show it (neither).
    On that day each month, from that time, it goes out as a drill (audited as the system)."""
    settings = settings_or_exit()
    if off:
        stopped = with_services(lambda services: services.drills.stop_monthly(Actor.operator()))
        console.print("monthly drill stopped" if stopped else "there was no monthly drill")
        return
    if day is None or text is None:
        if day is not None or text is not None:
            raise typer.BadParameter("--day and --text go together")
        found = with_services(lambda services: services.drills.monthly())
        if found is None:
            console.print("no monthly drill (set one with --day and --text)")
            return
        console.print(
            f"monthly drill: day {found.day} at {found.at:%H:%M}, zones {', '.join(found.zones)}"
            f"{', with a check-in' if found.check_in else ''}; last sent "
            f"{found.last_month or 'never'}"
        )
        return
    try:
        when = clock(at, time(18))
    except ParseError as exc:
        raise typer.BadParameter(str(exc)) from None
    texts = {"en": text} | ({"es": text_es} if text_es else {})
    chosen = parse_zones(zones, settings)
    drill = with_services(
        lambda services: services.drills.set_monthly(
            day, when, chosen, texts, Actor.operator(), check_in=check_in
        )
    )
    console.print(f"monthly drill set: day {drill.day} at {drill.at:%H:%M} network time")


@alerts_app.command("list")
def alerts_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest alerts."""
    found = with_services(lambda services: services.alerts.recent(limit))
    table = Table("#", "type", "status", "zones", "recipients", "created", "expires")
    for a in found:
        zones = ", ".join(a.zones) if a.zones else f"(as #{a.refers_to})"
        table.add_row(str(a.id), str(a.kind), str(a.status), zones, str(a.recipients),
                      f"{a.created_at:%Y-%m-%d %H:%M}", f"{a.expires_at:%H:%M} UTC")  # fmt: skip
    console.print(table)


@app.command()
def audit(limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50) -> None:
    """The audit log: who did what, when (never a subscriber's number)."""
    from bot.core.audit import entries

    found = with_services(lambda services: entries(services.db, limit))
    table = Table("when (UTC)", "who", "action", "subject", "detail", title="Audit log")
    for e in found:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items())
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.subject, detail)
    console.print(table)


@reports_app.command("list")
def reports_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Open reports: number, zone, status, minutes since submitted, who is verifying (no text)."""

    async def job(services: Services) -> tuple[datetime, list[ReportView]]:
        return services.reports.clock(), await services.reports.open_reports()

    now, reports = with_services(job)
    found = [
        (r, None if r.submitted_at is None else int((now - r.submitted_at).total_seconds() // 60))
        for r in reports
    ]
    if as_json:
        data = [
            {"id": r.id, "zone": r.zone, "status": r.status.value, "minutes": minutes,
             "claimed_by": r.claimed_by}
            for r, minutes in found
        ]  # fmt: skip
        console.print_json(json.dumps(data))
        return
    table = Table("#", "zone", "status", "minutes", "claimed by", title="Open reports")
    for r, minutes in found:
        table.add_row(str(r.id), r.zone or "unknown", r.status.value,
                      "-" if minutes is None else str(minutes), r.claimed_by or "")  # fmt: skip
    console.print(table)


@inbox_app.command("list")
def inbox_list(
    every: Annotated[
        bool, typer.Option("--all", help="Also the ones handled (kept an hour, then deleted)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Updates set aside or pending: number, update id, status, attempts, error, received.

    Never their content: texts, names and chat ids stay encrypted."""
    statuses = list(InboxStatus) if every else [InboxStatus.PENDING, InboxStatus.SET_ASIDE]
    found = with_services(lambda services: services.inbox.items(statuses))
    if as_json:
        data = [
            {"id": i.id, "update_id": i.update_id, "status": i.status.value,
             "attempts": i.attempts, "error": i.error, "received": i.received_at.isoformat()}
            for i in found
        ]  # fmt: skip
        console.print_json(json.dumps(data))
        return
    table = Table("#", "update id", "status", "attempts", "error", "received (UTC)", title="Inbox")
    for i in found:
        table.add_row(str(i.id), str(i.update_id), i.status.value.replace("_", " "),
                      str(i.attempts), i.error or "", f"{i.received_at:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    console.print(table)


@inbox_app.command("retry")
def inbox_retry(
    entry: Annotated[int, typer.Argument(help="The # from `rrbot inbox list`", min=1, max=ROW_ID)],
) -> None:
    """Hand a set-aside update to the handlers again, with three more attempts. Audited.

    A running bot takes it within seconds."""
    if not with_services(lambda services: services.inbox.retry(entry, Actor.operator())):
        errors.print(f"[bold red]inbox #{entry} is not set aside[/]", highlight=False)
        raise typer.Exit(1)
    console.print(f"inbox #{entry} handed back to the handlers")


SMALL_COUNT = 5
"""Counts below this are published as "<5": a small count in a small zone can point at people."""


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def parse_day(value: str) -> date:
    """'2025-03-01' -> a date."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


class StatsOf(StrEnum):
    REPORTS = "reports"
    CALLS = "calls"


@stats_app.command("export")
def stats_export(
    start: Annotated[
        date,
        typer.Option(
            "--from", parser=parse_day, metavar="YYYY-MM-DD", help="First day (network time)"
        ),
    ],
    end: Annotated[
        date,
        typer.Option("--to", parser=parse_day, metavar="YYYY-MM-DD", help="Last day, included"),
    ],
    output: Annotated[
        ExportFormat, typer.Option("--format", help="csv (with a header line) or json")
    ] = ExportFormat.CSV,
    what: Annotated[
        StatsOf, typer.Option("--of", help="reports (by zone and outcome) or hotline calls")
    ] = StatsOf.REPORTS,
) -> None:
    """Reports per week (from Monday), zone and outcome, or hotline calls per week, language
    and event (--of calls: call, rights, report, volunteer, alerts, answered, forwarded,
    reported, signed_up), to publish; counts below 5 print as <5."""
    if start > end:
        raise typer.BadParameter(f"{start} is after --to {end}", param_hint="'--from'")
    columns = ["week", "zone", "outcome", "count"]
    if what is StatsOf.CALLS:
        columns = ["week", "language", "event", "count"]
        found = with_services(lambda services: services.hotline.weekly_counts(start, end))
    else:
        found = with_services(lambda services: services.reports.weekly_counts(start, end))
    rows = [
        dict(zip(columns, (week.isoformat(), a, b, n if n >= SMALL_COUNT else f"<{SMALL_COUNT}"), strict=True))
        for week, a, b, n in found
    ]  # fmt: skip
    if output is ExportFormat.JSON:
        console.print_json(json.dumps(rows))
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    typer.echo(buffer.getvalue(), nl=False)


@app.command()
def purge(
    reports_older_than: Annotated[
        timedelta,
        typer.Option(
            "--reports-older-than",
            parser=parse_duration,
            metavar="AGE",
            help="Purge reports created longer ago than this, like 7d, 36h or 90m",
        ),
    ],
) -> None:
    """Delete old reports' text, photo and reporter now; status, zone and times stay. Audited."""
    purged = with_services(lambda services: services.reports.purge(reports_older_than))
    console.print(f"{purged} report(s) purged")


@app.command()
def forget(
    phone: Annotated[
        str | None, typer.Option(help="The person's number, as they text from (+13125550100)")
    ] = None,
    telegram_id: Annotated[
        int | None, typer.Option("--telegram-id", help="The person's Telegram user id")
    ] = None,
) -> None:
    """Remove everything linked to one person, at their request: subscription and history,
    deliveries (and the messages kept at Twilio), RSVPs, their reports' link to them, a block.
    Audited without saying whose. Prints what was removed, by kind."""
    from bot.channels.sms.inbound import normalize_number

    if (phone is None) == (telegram_id is None):
        errors.print("[bold red]Give one of --phone or --telegram-id.[/]")
        raise typer.Exit(2)
    if phone is not None:
        number = normalize_number(phone)
        if number is None:
            errors.print("[bold red]--phone is not a valid phone number.[/]")
            raise typer.Exit(2)
        channel, address = Channel.SMS, number
    else:
        channel, address = Channel.TELEGRAM, str(telegram_id)
    removed = with_services(
        lambda services: services.retention.forget(channel, address, Actor.operator())
    )
    console.print(", ".join(f"{kind}: {n}" for kind, n in removed.items()))


@content_app.command("check")
def content_check(
    language: Annotated[
        str | None, typer.Option(help="Only this language (a code: pl, zh-Hans).")
    ] = None,
    config: Annotated[Path, typer.Option(help="The config folder.")] = PROJECT_ROOT / "config",
) -> None:
    """Every language x topic: its own or English, SMS segments, key points, review.

    Exits 1 when a topic is missing, an SMS is over 4 segments, a text lacks one of English's
    key points or interface strings are untranslated."""
    from bot.core.content_check import check
    from bot.core.i18n import coverage

    content = _content_or_exit(config)
    results = check(content, coverage(config / "locale"))
    if language is not None:
        results = [r for r in results if r.code == language]
        if not results:
            console.print(f"[red]No language {language!r} in {config.name}/rights[/red]")
            raise typer.Exit(2)
    table = Table(title="Rights by SMS: segments each text costs (- : falls back to English)")
    for header in ("lang", "name", "sum", "menu", *TOPIC_KEYS, "strings", "phone", "reviewed"):
        table.add_column(header, overflow="fold")
    for result in results:
        cells = [
            (str(c.segments) if c.own else "-") + ("" if c.encoding == "GSM-7" else "u")
            for c in result.cells
        ]
        reviewed = "draft" if result.draft else "yes"
        done, total = result.strings
        voice = content.voices.get(result.code)
        by_phone = "-" if voice is None else "voice" if voice.speaks else "recorded"
        if voice is not None and voice.speaks and voice.recordings:
            by_phone += f"+{len(voice.recordings)}"
        table.add_row(result.code, result.name, *cells, f"{done}/{total}", by_phone, reviewed)
    console.print(table)
    console.print(
        "u: UCS-2 (67 characters a segment); phone: spoken by a voice (+ recorded prompts), "
        "recorded only, or - not offered by phone; draft: not yet reviewed by a native "
        "speaker and a lawyer"
    )
    problems = [(r.code, p) for r in results for p in r.problems]
    for code, problem in problems:
        console.print(f"[red]{code}[/red] {problem}")
    if problems:
        raise typer.Exit(1)


@content_app.command("script")
def content_script(
    language: Annotated[str, typer.Argument(help="A language code: ht, fa-AF, ps, ur ...")],
    config: Annotated[Path, typer.Option(help="The config folder.")] = PROJECT_ROOT / "config",
) -> None:
    """What to record for the hotline in a language: each file under config/voice/<code>/
    and its words. A language no Twilio voice speaks needs every file but the last three;
    then add `<code>: {recorded: true}` to config/voice.yaml."""
    from bot.core import phone

    content = _content_or_exit(config)
    if language not in content.rights:
        console.print(f"[red]No language {language!r} in {config.name}/rights[/red]")
        raise typer.Exit(2)
    draft = " (a draft translation: have a native speaker check it as they record)"
    table = Table(
        title=f"Recordings for {content.language_name(language)}"
        + (draft if content.rights[language].draft else ""),
        show_lines=True,
    )
    for header in ("file", "words", "how"):
        table.add_column(header, overflow="fold")
    for key, words, how in phone.script(content, language):
        table.add_row(f"{key}.mp3", words, how)
    console.print(table)
    console.print(f"Save them in {config.name}/voice/{language}/ as .mp3 or .wav.")


def _content_or_exit(config: Path) -> Content:
    """config/ loaded, or its error in one line and exit status 2."""
    try:
        return load_content(config)
    except ContentError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def main() -> None:
    app()


def parse_local(value: str, zone: tzinfo) -> datetime:
    """'2026-12-12 10:00' in the network's time zone -> an aware datetime (bot.core.parse)."""
    try:
        return local_time(value, zone)
    except ParseError as exc:
        raise typer.BadParameter(str(exc)) from None


def _codes(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


E = TypeVar("E", bound=StrEnum)


def hyphenated(kind: type[E]) -> Callable[[str], E]:
    """A multi-word value as the contract spells it (`all-clear`), or with an underscore."""

    def parse(value: str) -> E:
        if isinstance(value, kind):  # the default, already parsed
            return value
        try:
            return kind(value.strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(member.value.replace("_", "-") for member in kind)
            raise typer.BadParameter(f"one of {choices}") from None

    return parse


def parse_zones(value: str, settings: Settings) -> tuple[str, ...]:
    """'60629,60632' or 'all' -> the zones, read as Telegram reads them (bot.core.parse)."""
    zones = load_content(settings.config_dir).zones
    try:
        return zone_list(value, lambda code: zones.name_of(code) is not None)
    except ParseError as exc:
        raise typer.BadParameter(str(exc)) from None


@workshops_app.command("add")
def workshops_add(
    title: Annotated[str, typer.Option(help="The English title")],
    start: Annotated[str, typer.Option(help="YYYY-MM-DD HH:MM in the network's TIMEZONE")],
    place: Annotated[str, typer.Option(help="An address or an online link")],
    title_es: Annotated[str | None, typer.Option(help="The Spanish title")] = None,
    description: Annotated[str | None, typer.Option(help="What it covers, in English")] = None,
    description_es: Annotated[str | None, typer.Option(help="What it covers, in Spanish")] = None,
    minutes: Annotated[
        int, typer.Option(help="How long it lasts", min=1, max=24 * 60)
    ] = DEFAULT_MINUTES,
    languages: Annotated[str, typer.Option(help="Given in, e.g. es,en")] = "en",
    zones: Annotated[str, typer.Option(help="ZIP codes it serves, or all")] = "all",
    capacity: Annotated[
        int | None, typer.Option(help="Seats (none: no limit)", min=1, max=100_000)
    ] = None,
    repeat: Annotated[
        str | None,
        typer.Option(help="A monthly series from --start on, e.g. 'second saturday'"),
    ] = None,
    count: Annotated[
        int, typer.Option(help="How many workshops the series has", min=1, max=366)
    ] = 6,
    announce: Annotated[
        bool, typer.Option(help="Tell the subscribers of its zones who follow workshops")
    ] = False,
    ignore_quiet_hours: Annotated[
        bool, typer.Option(help="Announce now even during QUIET_HOURS")
    ] = False,
) -> None:
    """Schedule a workshop (or a monthly series with --repeat); prints the id(s)."""
    settings = settings_or_exit()
    plan = WorkshopPlan(
        titles={"en": title, **({"es": title_es} if title_es else {})},
        descriptions={
            code: text for code, text in (("en", description), ("es", description_es)) if text
        },
        starts_at=parse_local(start, settings.zone),
        minutes=minutes,
        place=place,
        languages=_codes(languages),
        zones=parse_zones(zones, settings),
        capacity=capacity,
    )
    try:
        plans = series(plan, repeat, count)
    except WorkshopError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--repeat'") from None

    async def job(services: Services) -> tuple[list[int], int | None]:
        ids = [(await services.workshops.add(plan, Actor.operator())).id for plan in plans]
        if not announce:
            return ids, None
        told = await services.workshops.announce(
            ids[0], Actor.operator(), quiet_hours=not ignore_quiet_hours
        )
        return ids, told.queued

    ids, told = with_services(job)
    typer.echo(" ".join(str(i) for i in ids))
    if told is not None:
        errors.print(f"announcement of #{ids[0]} queued for {told} subscriber(s)")


@workshops_app.command("import")
def workshops_import(
    path: Annotated[Path, typer.Argument(help="A YAML file of workshops")],
) -> None:
    """Schedule a season at once from YAML (see config/workshops.example.yaml)."""
    import yaml

    settings = settings_or_exit()
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = loaded.get("workshops") or [] if isinstance(loaded, dict) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise typer.BadParameter("cannot be read as YAML", param_hint=str(path)) from None
    if not isinstance(entries, list):
        raise typer.BadParameter("has no list under `workshops:`", param_hint=str(path))
    plans = []
    for number, entry in enumerate(entries, 1):
        try:
            plan = WorkshopPlan(
                titles={str(k): str(v) for k, v in entry["title"].items()},
                descriptions={str(k): str(v) for k, v in (entry.get("description") or {}).items()},
                starts_at=parse_local(str(entry["start"]), settings.zone),
                minutes=int(entry.get("minutes", DEFAULT_MINUTES)),
                place=str(entry["place"]),
                languages=tuple(str(code) for code in entry.get("languages", ["en"])),
                zones=parse_zones(",".join(str(z) for z in entry.get("zones", ["all"])), settings),
                capacity=entry.get("capacity"),
            )
            repeat = entry.get("repeat")  # a monthly series: "second saturday", with `count`
            plans += series(plan, str(repeat) if repeat else None, int(entry.get("count", 6)))
        except WorkshopError as exc:
            raise typer.BadParameter(f"workshop {number}: {exc}", param_hint=str(path)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The field's name only (a KeyError's), never a value from the file.
            what = f"needs `{exc.args[0]}`" if isinstance(exc, KeyError) else "is malformed"
            raise typer.BadParameter(f"workshop {number} {what}", param_hint=str(path)) from None
    if not plans:
        errors.print(f"[bold red]{path.name}: no workshops in it, nothing scheduled.[/]")
        raise typer.Exit(1)

    async def job(services: Services) -> list[int]:
        return [(await services.workshops.add(plan, Actor.operator())).id for plan in plans]

    ids = with_services(job)
    console.print(f"{len(ids)} workshop(s) scheduled: {', '.join(f'#{i}' for i in ids)}")


@workshops_app.command("list")
def workshops_list() -> None:
    """Upcoming workshops with their RSVPs."""
    settings = settings_or_exit()
    found = with_services(lambda services: services.workshops.upcoming())
    table = Table("#", "title", "starts", "place", "languages", "zones", "going", "state")
    for w in found:
        table.add_row(str(w.id), w.title("en"), f"{w.starts_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
                      w.place, ",".join(w.languages), ",".join(w.zones),
                      f"{w.going}/{w.capacity}" if w.capacity else str(w.going), w.state.value)  # fmt: skip
    console.print(table)


@workshops_app.command("cancel")
def workshops_cancel(
    workshop_id: Annotated[int, typer.Argument(help="The workshop's id", min=1, max=ROW_ID)],
) -> None:
    """Cancel: its reminders are dropped and everyone coming is told."""
    told = with_services(lambda services: services.workshops.cancel(workshop_id, Actor.operator()))
    console.print(f"workshop #{workshop_id} cancelled; {told} told")


@workshops_app.command("move")
def workshops_move(
    workshop_id: Annotated[int, typer.Argument(help="The workshop's id", min=1, max=ROW_ID)],
    start: Annotated[str, typer.Option(help="The new YYYY-MM-DD HH:MM (network time)")],
    place: Annotated[str | None, typer.Option(help="A new place")] = None,
) -> None:
    """Move to a new time (and place): reminders follow, everyone coming is told."""
    settings = settings_or_exit()
    when = parse_local(start, settings.zone)
    told = with_services(
        lambda services: services.workshops.move(workshop_id, when, Actor.operator(), place)
    )
    console.print(f"workshop #{workshop_id} moved; {told} told")
