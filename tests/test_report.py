"""`coachsync report`: the page's numbers are the store's, calendar text stays text, nothing is fetched.

A hand-built history goes in through real passes and commands (a late move, an on-time
cancellation, a no-show, an excuse, a paid fee, a pause), the report comes out through the CLI,
and lxml reads it back as a browser's parser would: every figure is compared with what the app
and `clients --json` say, never with a string written out here by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from coachsync.app import App
from coachsync.attendance import SessionState
from coachsync.model import ChangeKind, FeeStatus, SuggestionEntry
from coachsync.report import render_report
from coachsync.report.data import AHEAD

from support.cli import cli
from support.ical import HOUR, session
from support.scenario import NOW, Coach, OpenApp

DAY = timedelta(days=1)
HOSTILE = "<script>alert(1)</script> Carmen & <b>co</b>"
SINCE = NOW - 183 * DAY

POLICIES = """\
agreement:
  notice_hours: 24
  cadence: weekly
  allowance: {reschedules: 0, per: month}
policies:
  fee: {enabled: true, amount: 40, no_show_amount: 70, currency: EUR}
"""

ALICE = [session(f"a{n}", NOW - (42 - 7 * n) * DAY) for n in range(8)]  # weekly, the last one a week ahead
BOB = [session("b1", NOW - 3 * DAY, "bob@example.com", "Bob coaching")]
CARMEN = [session("c1", NOW - 10 * DAY, None, HOSTILE)]


def _calendar(alice: list[str], carmen: list[str]) -> list[str]:
    return [*alice, *BOB, *carmen]


@pytest.fixture
def coach(tmp_path: Path) -> Coach:
    coach = Coach(tmp_path, extra_yaml=POLICIES)
    coach.write(*_calendar(ALICE, CARMEN))
    assert cli(coach, "sync", at=NOW - 50 * DAY).exit_code == 0
    # 10 hours before Alice's a3, it moves a day later: late, and a fee.
    a3 = NOW - 21 * DAY
    moved = [*ALICE[:3], session("a3", a3 + DAY), *ALICE[4:]]
    coach.write(*_calendar(moved, CARMEN))
    assert cli(coach, "sync", at=a3 - 10 * HOUR).exit_code == 0
    # Ten days before a5, it is cancelled: on time. Carmen's session, a week ahead, moves an hour.
    cancelled = [m for m in moved if "UID:a5" not in m]
    carmen_moved = [session("c1", NOW - 10 * DAY + HOUR, None, HOSTILE)]
    coach.write(*_calendar(cancelled, carmen_moved))
    assert cli(coach, "sync", at=NOW - 17 * DAY).exit_code == 0
    assert cli(coach, "sync").exit_code == 0
    return coach


def _report(coach: Coach, *args: str) -> lxml_html.HtmlElement:
    output = coach.root / "report.html"
    result = cli(coach, "report", "--output", str(output), *args)
    assert result.exit_code == 0, result.output
    return lxml_html.fromstring(output.read_bytes())


def _refs(coach: Coach, client: str) -> dict[str, str]:
    """Session references by UID, as `sessions --json` gives them."""
    rows = json.loads(cli(coach, "sessions", "--json", "--client", client, "--past", "60").stdout)
    return {row["uid"]: row["ref"] for row in rows}


def _mark(coach: Coach) -> None:
    """A no-show on Alice's a4, an excused one on Bob's session, Alice's move fee paid, Bob paused."""
    alice, bob = _refs(coach, "Alice Example"), _refs(coach, "Bob Builder")
    assert cli(coach, "noshow", alice["a4"]).exit_code == 0
    assert cli(coach, "noshow", bob["b1"], "--excused", "--reason", "flu").exit_code == 0
    move_fee = next(f for f in json.loads(cli(coach, "fees", "--json").stdout) if f["amount"] == "40.00")
    assert cli(coach, "fees", "paid", str(move_fee["id"]), "--on", "2026-11-20").exit_code == 0
    assert cli(coach, "client", "pause", "Bob Builder", "--until", "2027-01-04").exit_code == 0


def _table(page: lxml_html.HtmlElement, client: str, name: str) -> list[list[str]]:
    """The rows of one client's table, each cell's text as a browser shows it."""
    section = page.xpath(f'//section[@data-client="{client}"]')
    assert len(section) == 1
    (table,) = section[0].xpath(f'.//table[@data-table="{name}"]')
    return [[cell.text_content().strip() for cell in row.xpath("./td")] for row in table.xpath("./tbody/tr")]


def _local(moment: datetime | None, app: App) -> str:
    return "-" if moment is None else moment.astimezone(app.zone).strftime("%Y-%m-%d %H:%M")


def test_the_overview_shows_what_clients_shows_and_the_fees_the_store_holds(coach: Coach, open_app: OpenApp) -> None:
    _mark(coach)
    page = _report(coach)
    clients = json.loads(cli(coach, "clients", "--json").stdout)
    fees = open_app(coach).fees()

    rows = page.xpath('//table[@id="overview-table"]/tbody/tr')
    shown = {
        row.get("data-client"): {td.get("data-field"): td.text_content() for td in row.xpath("./td")} for row in rows
    }

    assert list(shown) == [c["name"] for c in clients]
    for client in clients:
        row = shown[client["name"]]
        rate = "-" if client["attendance"] is None else f"{round(100 * client['attendance'])}%"
        per = client["agreement"]["allowance"]
        owed = sum(f.amount for f in fees if f.client == client["name"] and f.status is FeeStatus.OWED)
        assert row == {
            "status": "active" if client["status"] == "active" else f"paused until {client['paused_until']}",
            "attendance": rate,
            "held": str(client["held"]),
            "allowance": f"{client['allowance_used']} of {per['reschedules']} per {per['per']}",
            "late": str(client["late"]),
            "no_shows": str(client["no_shows"]),
            "fees_owed": f"{owed:.2f} EUR" if owed else "-",
            "suggestions": "0",
        }
    # The scenario is not empty: the comparison above compared something.
    assert shown["Alice Example"]["late"] == "2" and shown["Alice Example"]["fees_owed"] == "70.00 EUR"
    assert shown["Bob Builder"]["status"] == "paused until 2027-01-04"


def test_each_clients_tables_hold_the_stores_history_sessions_and_fees(coach: Coach, open_app: OpenApp) -> None:
    _mark(coach)
    page = _report(coach)
    app = open_app(coach)
    standings = app.standings("Alice Example")

    history = _table(page, "Alice Example", "history")
    assert [(row[0], row[2], row[3], row[4], row[5]) for row in history] == [
        (
            str(r.id),
            {"moved": "moved", "cancelled": "cancelled", "no_show": "no-show"}[r.change.kind.value],
            _local(r.change.old_start, app),
            _local(r.change.new_start, app),
            f"{r.change.notice_hours:.1f}",
        )
        for r, _ in standings
    ]
    assert [row[6].startswith("late") for row in history] == [s.late for _, s in standings]
    assert [r.change.kind for r, _ in standings] == [ChangeKind.MOVED, ChangeKind.CANCELLED, ChangeKind.NO_SHOW]

    timeline = _table(page, "Alice Example", "timeline")
    sessions = app.sessions("Alice Example", SINCE, NOW + AHEAD, NOW)
    assert [(row[0], row[1], row[2], row[3]) for row in timeline] == [
        (f"S{ref}", _local(s.start, app), s.state.value.replace("_", "-"), _local(s.moved_to, app))
        for ref, s in sessions
    ]
    assert {s.state for _, s in sessions} == set(SessionState)  # held, moved, cancelled, no-show, upcoming

    notice = _table(page, "Alice Example", "notice")
    changes = [(r, s) for r, s in standings if r.change.kind is not ChangeKind.NO_SHOW]
    assert [(row[0], row[4], row[5]) for row in notice] == [
        (str(r.id), f"{r.change.notice_hours:.1f}", "yes" if s.late else "no") for r, s in changes
    ]

    counts = _table(page, "Alice Example", "counts")
    counted = [(r, s) for r, s in standings if s.counts]
    assert [(row[0], row[4]) for row in counts] == [
        (str(r.id), f"{s.allowance_used} of {s.allowance}") for r, s in counted
    ]

    fees = _table(page, "Alice Example", "fees")
    assert [(row[0], row[3], row[4]) for row in fees] == [
        (str(f.id), f"{f.amount:.2f} {f.currency}", "paid 2026-11-20" if f.status is FeeStatus.PAID else "owed")
        for f in app.fees("Alice Example")
    ]

    gaps = _table(page, "Alice Example", "cadence")
    held = [s.start for _, s in sessions if s.state is SessionState.HELD]
    assert [row[1] for row in gaps] == [f"{(b - a) / DAY:g}" for a, b in zip(held, held[1:], strict=False)]


def test_an_excused_no_show_is_marked_so_and_a_pause_is_listed(coach: Coach) -> None:
    _mark(coach)
    page = _report(coach)

    (cell,) = page.xpath('//section[@data-client="Bob Builder"]//table[@data-table="timeline"]//td[@data-state]')
    assert (cell.get("data-state"), cell.get("data-excused"), cell.text_content()) == (
        "no_show",
        "yes",
        "no-show (excused)",
    )
    counts = _table(page, "Bob Builder", "counts")
    assert counts[-1][2] == "paused until 2027-01-04"


def test_hostile_calendar_text_shows_as_text_and_runs_nothing(coach: Coach) -> None:
    page = _report(coach)

    assert page.xpath("//script") == []
    assert page.xpath("//b[text()='co']") == []
    titles = [row[4] for row in _table(page, "Carmen Diaz", "timeline")]
    assert titles == [HOSTILE, HOSTILE]  # the moved session's old slot and its new one
    assert _table(page, "Carmen Diaz", "history")[0][8] == HOSTILE


def test_the_page_names_no_external_resource(coach: Coach) -> None:
    _mark(coach)
    output = coach.root / "report.html"
    assert cli(coach, "report", "--output", str(output)).exit_code == 0
    text = output.read_text(encoding="utf-8")
    page = lxml_html.fromstring(text.encode())

    references = [
        value
        for element in page.iter()
        if isinstance(element.tag, str)
        for name, value in element.attrib.items()
        if name.rpartition("}")[2] in ("href", "src", "srcset", "action", "data", "poster")
    ]
    assert references and all(value.startswith("#") for value in references)
    assert re.findall(r"(?i)(?:https?:|ftp:|file:|//[a-z0-9])", text) == []
    assert re.findall(r"url\((?!#)", text) == [] and "@import" not in text and "@font-face" not in text
    assert page.xpath("//link | //iframe | //img | //object | //embed | //script") == []


def test_every_chart_is_inline_svg_with_ids_of_its_own_a_summary_and_a_data_table(coach: Coach) -> None:
    page = _report(coach)

    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids))
    charts = page.xpath('//div[@class="chart"]')
    assert len(charts) == 4 * 3  # four per client
    for chart in charts:
        (svg,) = chart.xpath(".//svg")
        (summary,) = page.xpath(f'//*[@id="{svg.get("aria-labelledby")}"]')
        assert summary.text_content().strip()
        assert chart.xpath(f'.//table[@data-table="{chart.get("data-chart")}"]')
        # Every reference inside a chart points at an id of the same chart.
        own = set(svg.xpath(".//@id"))
        pointed = {v[1:] for v in svg.xpath(".//@*[local-name()='href']")}
        pointed |= set(re.findall(r"url\(#([^)]+)\)", lxml_html.tostring(svg, encoding="unicode")))
        assert pointed and pointed <= own


def test_client_since_and_standard_output(coach: Coach, open_app: OpenApp) -> None:
    result = cli(coach, "report", "--client", "alice example", "--since", "2026-11-12", "--output", "-")

    assert result.exit_code == 0, result.output
    page = lxml_html.fromstring(result.stdout.encode())
    assert page.xpath("//section/@data-client") == ["Alice Example"]
    assert page.xpath("//h1")[0].text_content() == "Coaching report: Alice Example"
    since = datetime.combine(date(2026, 11, 12), datetime.min.time(), tzinfo=open_app(coach).zone)
    history = _table(page, "Alice Example", "history")
    records = [r for r in open_app(coach).history("Alice Example") if r.detected_at >= since]
    assert [row[0] for row in history] == [str(r.id) for r in records] and records


def test_an_unknown_client_or_date_is_one_line_naming_the_fix(coach: Coach) -> None:
    unknown = cli(coach, "report", "--client", "Alicia Example")
    bad_day = cli(coach, "report", "--since", "last week")
    tomorrow = cli(coach, "report", "--since", "2026-12-02")
    unwritable = cli(coach, "report", "--output", str(coach.root / "missing" / "report.html"))

    assert (unknown.exit_code, bad_day.exit_code, unwritable.exit_code) == (2, 2, 2)
    assert "did you mean 'Alice Example'?" in unknown.stderr
    assert "use YYYY-MM-DD" in bad_day.stderr
    assert tomorrow.exit_code == 2 and "'2026-12-02' is not before today" in tomorrow.stderr
    assert unwritable.stderr.strip().endswith("choose another --output")
    assert len(unwritable.stderr.strip().splitlines()) == 1
    assert not (coach.root / "report.html").exists()


def test_render_report_is_the_whole_document_for_other_callers(coach: Coach, open_app: OpenApp) -> None:
    page = render_report(open_app(coach), now=NOW, since=NOW - 90 * DAY, client="Bob Builder")

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert lxml_html.fromstring(page.encode()).xpath("//section/@data-client") == ["Bob Builder"]


def test_only_open_suggestions_are_shown_and_counted(coach: Coach, open_app: OpenApp) -> None:
    app = open_app(coach)
    app.store.ledger.add_suggestions(
        [
            SuggestionEntry(0, None, "cadence", "Alice Example", "Ask Alice how things are", NOW - 200 * DAY, "k:1"),
            SuggestionEntry(0, None, "cadence", "Alice Example", "Revisit the agreement", NOW - DAY, "k:2"),
        ]
    )
    first, second = app.suggestions()
    assert cli(coach, "suggestions", "dismiss", str(second.id)).exit_code == 0

    page = _report(coach)

    assert _table(page, "Alice Example", "suggestions") == [
        [str(first.id), first.created_at.astimezone(app.zone).strftime("%Y-%m-%d"), "cadence", first.text]
    ]
    (count,) = page.xpath('//tr[@data-client="Alice Example"]/td[@data-field="suggestions"]')
    assert count.text_content() == "1"


@pytest.mark.parametrize(("ci", "outcome", "code"), [("1", "1 error", 1), (None, "1 skipped", 0)])
def test_the_browser_test_fails_under_ci_without_a_browser_and_skips_elsewhere(
    ci: str | None, outcome: str, code: int, tmp_path: Path
) -> None:
    # A PATH with only the interpreter's directory: no chromium and no chromedriver on it.
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)
    if ci is not None:
        env["CI"] = ci
    browser_test = Path(__file__).with_name("test_report_browser.py")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            str(browser_test),
            "-k",
            "renders_without_errors",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )

    assert (done.returncode, outcome in done.stdout) == (code, True), done.stdout
    assert "no Chromium with chromedriver found" in done.stdout
