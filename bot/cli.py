"""The `rrbot` command: run the bot, migrate the database, and look after subscribers."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Rapid Response Bot: verified alerts and know-your-rights answers by Telegram and SMS.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
subscribers_app = typer.Typer(
    help="Subscribers, as counts (never a number or chat id).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")

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
    """Everything in one process: migrate, then the web server and the channels."""
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

    serve(settings_or_exit())


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


@subscribers_app.command("stats")
def subscribers_stats(
    by: Annotated[
        str, typer.Option(help="Comma-separated columns: channel, language, zone, status")
    ] = "channel,language,status",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Counts of subscribers by channel, language, zone and status."""
    from bot.app import build_services

    columns = [part.strip() for part in by.split(",") if part.strip()]
    unknown = set(columns) - {"channel", "language", "zone", "status"}
    if unknown or not columns:
        errors.print(f"--by: unknown column(s) {', '.join(sorted(unknown)) or '(none)'}")
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def fetch() -> Counter[tuple[str, ...]]:
        services = build_services(settings)
        try:
            rows = await services.directory.stats()
        finally:
            await services.db.close()
        totals: Counter[tuple[str, ...]] = Counter()
        for row in rows:
            totals[tuple(str(getattr(row, column) or "-") for column in columns)] += row.count
        return totals

    totals = asyncio.run(fetch())
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


def _prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def main() -> None:
    app()
