"""The operator's `rrbot` commands for reports: the weekly counts a network publishes (small
counts suppressed), an early purge, and the open reports, never with what was said or by whom."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bot.app import Services, build_services
from bot.cli import app as cli
from bot.core.audit import Actor
from bot.core.reporting import reporter_key
from bot.core.vocabulary import Channel, ReportStatus, Role
from bot.storage.crypto import Purpose
from bot.storage.models import ReportRow, place
from tests.conftest import DATA_KEY, make_settings

NETWORK_TZ = "America/Chicago"
CHICAGO = ZoneInfo(NETWORK_TZ)
SECRET = "Agents stopping cars outside the bakery on 26th"  # what a reporter said
PHONE = "+13125550187"  # who said it
PHOTO = "AgACAgEAAxkBAAIBtest-photo-file-id"


async def rrbot(database_url: str, tmp_path: Path, *args: str) -> Result:
    env = {
        "DATABASE_URL": database_url,
        "DATA_KEY": DATA_KEY,
        "VAR_DIR": str(tmp_path / "var"),
        "TIMEZONE": NETWORK_TZ,
        "COLUMNS": "200",
    }
    # The command runs its own event loop, as from a shell: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """The app's services on this test's database, to put reports in and read them back."""
    built = build_services(make_settings(database_url, tmp_path, TIMEZONE=NETWORK_TZ))
    yield built
    await built.db.close()


def report(
    services: Services,
    status: ReportStatus,
    zone: str | None,
    submitted_at: datetime | None,
    *,
    created_at: datetime | None = None,
    claimed_by: int | None = None,
) -> ReportRow:
    """A report as the bot stores one: text, photo and reporter encrypted."""
    vault = services.vault
    created = created_at or submitted_at
    assert created is not None
    return ReportRow(
        status=status,
        channel=Channel.SMS,
        language="en",
        zone=zone,
        reporter_index=vault.index(reporter_key(Channel.SMS, PHONE), Purpose.REPORTER),
        wants_outcome=False,
        claimed_by=claimed_by,
        created_at=created,
        submitted_at=submitted_at,
    )


async def store(services: Services, rows: list[ReportRow]) -> list[int]:
    async with services.db.transaction() as session:
        session.add_all(rows)
        await session.flush()
        vault = services.vault
        for row in rows:  # sealed to their rows, as the bot does
            row.reporter_cipher = vault.seal(PHONE, place(ReportRow.reporter_cipher, row.id))
            row.details_cipher = vault.seal(
                json.dumps({"text": SECRET}), place(ReportRow.details_cipher, row.id)
            )
            row.photo_cipher = vault.seal(PHOTO, place(ReportRow.photo_cipher, row.id))
        return [row.id for row in rows]


def local(day: str, clock: str) -> datetime:
    """A moment in the network's time zone (Chicago), as the aware UTC datetime stored."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=CHICAGO).astimezone(UTC)


def leaks(text: str) -> bool:
    """Whether a command's output shows what a reporter said or who they are (checked as a
    bool, so a failing assertion never prints either)."""
    return SECRET in text or PHONE in text or PHONE.removeprefix("+1") in text or PHOTO in text


async def weeks_of_march(services: Services) -> None:
    """Two weeks of reports, Monday 3 to Sunday 16 March 2025, and some just outside."""
    rows = [
        # Week of Monday 3 March: six confirmed in 60629, from ten past midnight on the 3rd
        # (06:10 UTC) to late on Sunday the 9th (already Monday the 10th in UTC, after the
        # switch to daylight time).
        report(services, ReportStatus.CONFIRMED, "60629", local("2025-03-03", "00:10")),
        *(report(services, ReportStatus.CONFIRMED, "60629", local(f"2025-03-0{d}", "12:00"))
          for d in (4, 5, 6, 7)),
        report(services, ReportStatus.CONFIRMED, "60629", local("2025-03-09", "22:00")),
        # Two false alarms in 60629: published as <5.
        report(services, ReportStatus.FALSE_ALARM, "60629", local("2025-03-03", "12:00")),
        report(services, ReportStatus.FALSE_ALARM, "60629", local("2025-03-08", "18:00")),
        # Week of Monday 10 March: exactly five waiting in 60632, the last late on the 16th
        # (the last day asked for, included), which is already the 17th in UTC.
        *(report(services, ReportStatus.NEW, "60632", local(f"2025-03-1{d}", "09:30"))
          for d in (0, 1, 2, 3)),
        report(services, ReportStatus.NEW, "60632", local("2025-03-16", "23:30")),
        # One with no zone.
        report(services, ReportStatus.NOT_CONFIRMED, None, local("2025-03-12", "15:00")),
        # Unfinished drafts are not reports yet.
        *(report(services, ReportStatus.DRAFT, "60632", local("2025-03-11", "10:00"))
          for _ in range(5)),
        # Outside the dates asked for, in the network's time zone.
        *(report(services, ReportStatus.CONFIRMED, "60608", local("2025-03-02", "23:59"))
          for _ in range(5)),
        *(report(services, ReportStatus.CONFIRMED, "60608", local("2025-03-17", "00:30"))
          for _ in range(5)),
    ]  # fmt: skip
    await store(services, rows)


async def test_stats_export_counts_weeks_by_zone_and_outcome_and_hides_small_counts(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    await weeks_of_march(services)
    exported = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-03", "--to", "2025-03-16"
    )
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.splitlines() == [
        "week,zone,outcome,count",
        "2025-03-03,60629,confirmed,6",
        "2025-03-03,60629,false_alarm,<5",
        "2025-03-10,60632,new,5",
        "2025-03-10,unknown,not_confirmed,<5",
    ]
    as_json = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-03", "--to", "2025-03-16",
        "--format", "json",
    )  # fmt: skip
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == [
        {"week": "2025-03-03", "zone": "60629", "outcome": "confirmed", "count": 6},
        {"week": "2025-03-03", "zone": "60629", "outcome": "false_alarm", "count": "<5"},
        {"week": "2025-03-10", "zone": "60632", "outcome": "new", "count": 5},
        {"week": "2025-03-10", "zone": "unknown", "outcome": "not_confirmed", "count": "<5"},
    ]
    # One day, mid-week: the week is still named by its Monday.
    one_day = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-05", "--to", "2025-03-05"
    )
    assert one_day.stdout.splitlines() == [
        "week,zone,outcome,count",
        "2025-03-03,60629,confirmed,<5",
    ]
    assert not leaks(exported.output + as_json.output)


async def test_stats_export_refuses_bad_dates_naming_the_option(
    database_url: str, tmp_path: Path
) -> None:
    bad_from = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-13-01", "--to", "2025-03-16"
    )
    assert bad_from.exit_code == 2
    assert "--from" in bad_from.output and "YYYY-MM-DD" in bad_from.output
    bad_to = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-01", "--to", "March 16"
    )
    assert bad_to.exit_code == 2 and "--to" in bad_to.output
    backwards = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-16", "--to", "2025-03-01"
    )
    assert backwards.exit_code == 2
    assert "--from" in backwards.output and "after" in backwards.output
    assert backwards.stdout == ""  # no CSV header: nothing was exported
    wrong_format = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", "2025-03-01", "--to", "2025-03-16",
        "--format", "xlsx",
    )  # fmt: skip
    assert wrong_format.exit_code == 2 and "--format" in wrong_format.output


async def test_purge_removes_what_identifies_old_reports_and_keeps_them_counted(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=10)
    old_ids = await store(
        services,
        [report(services, ReportStatus.CONFIRMED, "60629", old) for _ in range(5)]
        + [report(services, ReportStatus.NEW, None, old)],
    )
    day_old, two_hours_old = await store(
        services,
        [
            report(services, ReportStatus.NEW, "60632", now - timedelta(hours=24)),
            report(services, ReportStatus.NEW, "60632", now - timedelta(hours=2)),
        ],
    )

    bad = await rrbot(database_url, tmp_path, "purge", "--reports-older-than", "7 days")
    assert bad.exit_code == 2 and "--reports-older-than" in bad.output
    none = await rrbot(database_url, tmp_path, "purge", "--reports-older-than", "0d")
    assert none.exit_code == 2 and "must be more than zero" in none.output
    assert await unpurged(services) == {*old_ids, day_old, two_hours_old}  # nothing purged

    purged = await rrbot(database_url, tmp_path, "purge", "--reports-older-than", "7d")
    assert purged.exit_code == 0, purged.output
    assert "6 report(s) purged" in purged.output
    async with services.db.transaction() as session:
        rows = {row.id: row for row in (await session.scalars(select(ReportRow))).all()}
    for report_id in old_ids:
        row = rows[report_id]
        assert row.details_cipher is None and row.photo_cipher is None
        assert row.reporter_cipher is None and row.reporter_index is None
        assert row.purged_at is not None
    assert [(rows[i].status, rows[i].zone) for i in old_ids] == [("confirmed", "60629")] * 5 + [
        ("new", None)
    ]
    recent = rows[day_old]
    assert recent.purged_at is None and recent.photo_cipher is not None
    assert recent.reporter_index == services.vault.index(
        reporter_key(Channel.SMS, PHONE), Purpose.REPORTER
    )
    assert recent.details_cipher is not None
    where = place(ReportRow.details_cipher, recent.id)
    intact = json.loads(services.vault.open(recent.details_cipher, where)) == {"text": SECRET}
    assert intact

    # Hours and minutes: 36 hours spares both recent reports, 150 minutes only the newer one.
    spared = await rrbot(database_url, tmp_path, "purge", "--reports-older-than", "36h")
    assert spared.exit_code == 0 and "0 report(s) purged" in spared.output
    assert await unpurged(services) == {day_old, two_hours_old}
    minutes = await rrbot(database_url, tmp_path, "purge", "--reports-older-than", "150m")
    assert minutes.exit_code == 0 and "1 report(s) purged" in minutes.output
    assert await unpurged(services) == {two_hours_old}

    # The counts a network publishes still hold every report.
    today = now.astimezone(CHICAGO).date()
    exported = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", str(today - timedelta(days=14)),
        "--to", str(today), "--format", "json",
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    counted = {(r["zone"], r["outcome"]): r["count"] for r in json.loads(exported.stdout)}
    assert counted == {("60629", "confirmed"): 5, ("unknown", "new"): "<5", ("60632", "new"): "<5"}
    audit = await rrbot(database_url, tmp_path, "audit")
    assert audit.output.count("report.purge") == 2  # the two purges that purged something
    assert not leaks(purged.output + exported.output + audit.output)


async def unpurged(services: Services) -> set[int]:
    async with services.db.transaction() as session:
        return set(
            (await session.scalars(select(ReportRow.id).where(ReportRow.purged_at.is_(None)))).all()
        )


async def test_reports_list_shows_open_reports_by_number_never_what_was_said(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    rosa = await services.coordinators.add(9001, Role.COORDINATOR, "Rosa", Actor.operator())
    now = datetime.now(UTC)
    waiting, verifying, decided = await store(
        services,
        [
            report(services, ReportStatus.NEW, "60629", now - timedelta(minutes=30)),
            report(
                services,
                ReportStatus.VERIFYING,
                None,
                now - timedelta(minutes=5),
                claimed_by=rosa.id,
            ),
            report(services, ReportStatus.CONFIRMED, "60608", now - timedelta(minutes=50)),
        ],
    )

    listed = await rrbot(database_url, tmp_path, "reports", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    [first] = [line for line in lines if f"│ {waiting} " in line]
    assert "60629" in first and "new" in first
    [second] = [line for line in lines if f"│ {verifying} " in line]
    assert "unknown" in second and "verifying" in second and "Rosa" in second
    assert not [line for line in lines if f"│ {decided} " in line]  # decided: not open
    assert "60608" not in listed.output
    assert not leaks(listed.output)

    as_json = await rrbot(database_url, tmp_path, "reports", "list", "--json")
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.stdout)
    assert [(r["id"], r["zone"], r["status"], r["claimed_by"]) for r in found] == [
        (verifying, None, "verifying", "Rosa"),
        (waiting, "60629", "new", None),
    ]
    # Minutes since submitted, by the real clock: allow for a slow machine.
    assert 5 <= found[0]["minutes"] <= 7 and 30 <= found[1]["minutes"] <= 32
    assert set(found[0]) == {"id", "zone", "status", "minutes", "claimed_by"}
    assert not leaks(as_json.output)


async def test_every_new_command_has_help(database_url: str, tmp_path: Path) -> None:
    for command, words in (
        (("stats", "export"), ("--from", "--to", "--format", "<5")),
        (("purge",), ("--reports-older-than", "7d")),
        (("reports", "list"), ("--json", "minutes")),
    ):
        shown = await rrbot(database_url, tmp_path, *command, "--help")
        assert shown.exit_code == 0
        assert all(word in shown.output for word in words), command
