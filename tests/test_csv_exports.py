"""`history --csv`, `clients --csv` and `sessions --csv`: the fields of --json, a row per item, formulas
guarded as in `fees --csv`; exact rows on a hand-built calendar."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from coachsync.exports import CLIENT_FIELDS, HISTORY_FIELDS, SESSION_FIELDS, flat

from support.cli import cli
from support.ical import HOUR, session
from support.scenario import NOW, Coach

DAY = timedelta(days=1)
DEC_3 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture
def practice(coach: Coach) -> Coach:
    """Alice moved a session titled with a formula (change 1, excused); Bob cancelled his (change 2),
    then the coach paused Bob; Carmen had a session yesterday."""
    sessions = [
        session("a1", DEC_3, summary=FORMULA),
        session("b1", DEC_3 + DAY, "bob@example.com"),
        session("c1", NOW - DAY, "", "Carmen intro"),
    ]
    coach.write(*sessions)
    assert cli(coach, "sync", at=NOW - 2 * DAY).exit_code == 0
    coach.write(session("a1", DEC_3 + 2 * HOUR, summary=FORMULA), sessions[2])
    assert cli(coach, "sync", at=NOW - DAY).exit_code == 0
    assert cli(coach, "excuse", "1", "--reason", "-coach moved it", at=NOW - DAY + HOUR).exit_code == 0
    pause = ("client", "pause", "Bob Builder", "--reason", "+parental leave")
    assert cli(coach, *pause, env={"LOGNAME": "coach"}).exit_code == 0
    return coach


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_history_csv_has_a_row_per_change_and_engagement_step(practice: Coach) -> None:
    result = cli(practice, "history", "--csv")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        ",".join(HISTORY_FIELDS),
        'change,1,coaching,Alice Example,a1,,moved,"\'=HYPERLINK(""http://x"")",2026-12-03T10:00:00+01:00,'
        "2026-12-03T12:00:00+01:00,69.0,2026-11-30T13:00:00+01:00,2026-11-30T13:00:00+01:00,,1,true,"
        '\'-coach moved it,"[{""reason"": ""-coach moved it"", ""at"": ""2026-11-30T14:00:00+01:00"",'
        ' ""taken_back"": false}]",false,false,excused,0,2,false,,,false,,,',
        "change,2,coaching,Bob Builder,b1,,cancelled,Coaching,2026-12-04T10:00:00+01:00,,93.0,"
        "2026-11-30T13:00:00+01:00,2026-11-30T13:00:00+01:00,,1,false,,[],false,true,,1,2,false,"
        "2026-11-30T00:00:00+01:00,,false,,,",
        "engagement,1,,Bob Builder,,,pause,,,,,,,,,,'+parental leave,,,,,,,,,,,2026-12-01T13:00:00+01:00,coach,",
    ]


def test_clients_csv_flattens_the_agreement_into_columns(practice: Coach) -> None:
    result = cli(practice, "clients", "--csv")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        ",".join(CLIENT_FIELDS),
        "Alice Example,1,0,0,0,1,active,,0,0,0,0,,24.0,,,2,90 days,,built-in,built-in,built-in,built-in,built-in",
        "Bob Builder,0,0,0,1,0,paused,,1,0,0,0,,24.0,,,2,90 days,,built-in,built-in,built-in,built-in,built-in",
        "Carmen Diaz,0,0,0,0,0,active,,0,1,0,0,1.0,24.0,,,2,90 days,,built-in,built-in,built-in,built-in,built-in",
    ]


def test_sessions_csv_lists_the_sessions_around_today(practice: Coach) -> None:
    result = cli(practice, "sessions", "--csv")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        ",".join(SESSION_FIELDS),
        "S3,coaching,c1,,Carmen Diaz,2026-11-30T13:00:00+01:00,held,,,Carmen intro",
        "S1,coaching,a1,,Alice Example,2026-12-03T10:00:00+01:00,moved,2026-12-03T12:00:00+01:00,1,"
        '"\'=HYPERLINK(""http://x"")"',
        'S1,coaching,a1,,Alice Example,2026-12-03T12:00:00+01:00,upcoming,,,"\'=HYPERLINK(""http://x"")"',
        "S2,coaching,b1,,Bob Builder,2026-12-04T10:00:00+01:00,cancelled,,2,Coaching",
    ]


@pytest.mark.parametrize(
    ("command", "fields"),
    [("history", HISTORY_FIELDS), ("clients", CLIENT_FIELDS), ("sessions", SESSION_FIELDS)],
)
def test_csv_has_the_fields_of_json_under_the_same_names(practice: Coach, command: str, fields: tuple[str]) -> None:
    listed = json.loads(cli(practice, command, "--json").stdout)
    rows = parsed(cli(practice, command, "--csv").stdout)

    assert len(rows) == len(listed) > 0
    names = [name for item in listed for name in flat(item)]
    assert sorted(set(names)) == sorted(fields)
    for row, item in zip(rows, listed, strict=True):
        assert [key for key in fields if row[key]] == [key for key in fields if flat(item).get(key) not in (None, "")]


@pytest.mark.parametrize("command", ["history", "clients", "sessions"])
def test_an_empty_listing_is_a_header_and_json_with_csv_is_a_usage_error(coach: Coach, command: str) -> None:
    fields = {"history": HISTORY_FIELDS, "clients": CLIENT_FIELDS, "sessions": SESSION_FIELDS}[command]
    both = cli(coach, command, "--json", "--csv")

    if command == "clients":
        assert cli(coach, command, "--csv").stdout.count("\n") == 4  # every configured client has a row
    else:
        assert cli(coach, command, "--csv").stdout == ",".join(fields) + "\n"
    assert (both.exit_code, both.stderr.splitlines()[-1]) == (2, "Error: use either --json or --csv, not both")
