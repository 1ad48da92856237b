"""The coaching agreement: default and per-client terms with their sources, and each record's standing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coachsync.agreement import Agreement, Cadence, Period, PeriodKind, Source, parse_cadence, parse_period
from coachsync.config import load_config
from coachsync.errors import ConfigError
from coachsync.model import Change, ChangeKind, EngagementEvent, EngagementKind, Record
from coachsync.plugins import load_plugins
from coachsync.standing import standings

from support.config_files import EMPTY_ICS, write

BERLIN = ZoneInfo("Europe/Berlin")
DAY = timedelta(days=1)


def config_with(tmp_path: Path, yaml: str) -> Path:
    (tmp_path / "coaching.ics").write_text(EMPTY_ICS, encoding="utf-8")
    return write(tmp_path, "calendars:\n  - name: coaching\n    ics_file: coaching.ics\n" + yaml)


def test_a_client_overrides_the_practice_agreement_key_by_key_and_each_term_names_its_source(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        """\
agreement:
  notice_hours: 24
  cadence: weekly
  allowance:
    reschedules: 2
    per: 90 days
clients:
  - name: Alice Example
    agreement:
      notice_hours: 48
      started: 2026-09-01
      allowance: {per: month}
  - name: Bob Builder
""",
    )
    config = load_config(path)

    alice = config.agreement_for("Alice Example")
    assert alice.as_json() == {
        "notice_hours": 48.0,
        "cadence": "weekly",
        "cadence_days": 7,
        "allowance": {"reschedules": 2, "per": "month"},
        "started": "2026-09-01",
        "sources": {
            "notice_hours": "client",
            "cadence": "default",
            "allowance": "default",
            "per": "client",
            "started": "client",
        },
    }
    bob = config.agreement_for("Bob Builder")
    assert (bob.notice_hours, bob.per, bob.started, bob.sources["started"]) == (
        24.0,
        Period(PeriodKind.DAYS, 90),
        None,
        Source.BUILT_IN,
    )


def test_without_an_agreement_section_the_built_in_terms_apply(tmp_path: Path) -> None:
    agreement = load_config(config_with(tmp_path, "")).agreement_for(None)

    assert (agreement.notice_hours, agreement.allowance, str(agreement.per), agreement.cadence) == (
        24.0,
        2,
        "90 days",
        None,
    )
    assert set(agreement.sources.values()) == {Source.BUILT_IN}


def test_late_notice_hours_is_read_as_the_notice_period_and_check_says_where_to_move_it(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "late_notice_hours: 36\n"))

    assert config.agreement_for(None).notice_hours == 36.0
    assert config.agreement_for(None).sources["notice_hours"] is Source.DEFAULT
    assert config.notices() == [
        "late_notice_hours (line 4) is now agreement.notice_hours; move it under agreement: as notice_hours: 36"
    ]


def test_late_notice_hours_and_agreement_notice_hours_together_is_an_error(tmp_path: Path) -> None:
    path = config_with(tmp_path, "late_notice_hours: 36\nagreement:\n  notice_hours: 24\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value) == (
        f"{path}:4: late_notice_hours: give only agreement.notice_hours; late_notice_hours is its old name"
    )


@pytest.mark.parametrize(
    ("yaml", "line", "problem"),
    [
        (
            "agreement:\n  allowance:\n    per: fortnight\n",
            6,
            "agreement.allowance.per: expected '90 days' (any number), month, quarter or agreement, got 'fortnight'",
        ),
        (
            "agreement:\n  cadence: daily\n",
            5,
            "agreement.cadence: expected weekly, fortnightly, monthly or 'every N days', got 'daily'",
        ),
        (
            "clients:\n  - name: Alice\n    agreement:\n      started: '2026-09-01'\n",
            7,
            "clients[0].agreement.started: expected a date such as 2026-09-01, got '2026-09-01'",
        ),
        (
            "agreement:\n  allowance:\n    reschedules: -1\n",
            6,
            "agreement.allowance.reschedules: must be at least 0, got -1",
        ),
        ("agreement:\n  notice: 24\n", 5, "agreement.notice: unknown key 'notice'; did you mean 'notice_hours'?"),
    ],
)
def test_a_wrong_term_names_its_line_and_what_to_write(tmp_path: Path, yaml: str, line: int, problem: str) -> None:
    path = config_with(tmp_path, yaml)

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value) == f"{path}:{line}: {problem}"


def test_a_per_client_policy_override_is_merged_over_the_practice_section(tmp_path: Path) -> None:
    config = load_config(
        config_with(
            tmp_path,
            """\
clients:
  - name: Alice Example
    policies:
      fee: {amount: 60}
      escalation_email: {enabled: false}
  - name: Bob Builder
policies:
  fee: {enabled: true, amount: 40, currency: EUR}
  escalation_email: {enabled: true}
""",
        )
    )
    plugins = load_plugins(config)

    alice_fee = plugins.settings_for("fee", "Alice Example")
    bob_fee = plugins.settings_for("fee", "Bob Builder")
    assert alice_fee is not None and bob_fee is not None
    assert (str(alice_fee.amount), alice_fee.currency, str(bob_fee.amount)) == ("60.00", "EUR", "40.00")  # type: ignore[attr-defined]
    assert plugins.settings_for("escalation_email", "Alice Example") is None
    assert plugins.settings_for("escalation_email", "Bob Builder") is not None


def test_a_policy_switched_on_for_one_client_runs_for_that_client_only(tmp_path: Path) -> None:
    config = load_config(
        config_with(
            tmp_path,
            """\
clients:
  - name: Alice Example
    policies:
      fee: {enabled: true}
  - name: Bob Builder
policies:
  fee: {amount: 40, currency: EUR}
""",
        )
    )
    plugins = load_plugins(config)

    assert plugins.settings_for("fee", "Alice Example") is not None
    assert plugins.settings_for("fee", "Bob Builder") is None
    assert "fee" in plugins.on_change


@pytest.mark.parametrize(
    ("yaml", "line", "problem"),
    [
        (
            "clients:\n  - name: A\n  - name: B\n  - name: C\n    policies:\n      fee: {enabled: true, amout: 60}\n",
            9,
            "clients[2].policies.fee.amout: unknown key 'amout'; did you mean 'amount'?",
        ),
        (
            "clients:\n  - name: A\n    policies:\n      fee: {enabled: true, amount: -5}\n"
            "policies:\n  fee: {currency: EUR}\n",
            7,
            "clients[0].policies.fee.amount: must be greater than 0, got -5",
        ),
        (
            "clients:\n  - name: A\n    policies:\n      fee: {enabled: true}\npolicies:\n  fee: {amount: 40}\n",
            7,
            "clients[0].policies.fee: set currency when the fee is enabled, e.g. amount: 40, currency: EUR",
        ),
        (
            "clients:\n  - name: A\n    policies:\n      fees: {enabled: true}\n",
            7,
            "clients[0].policies.fees: no plugin named 'fees' is installed; did you mean 'fee'?",
        ),
        (
            "clients:\n  - name: A\n    policies:\n      fee: {enabled: true}\n"
            "policies:\n  fee: {amount: 40, currency: EURO}\n",
            9,
            "policies.fee.currency: expected a 3-letter currency code such as EUR or USD, got 'EURO'",
        ),
    ],
)
def test_a_wrong_per_client_policy_setting_names_the_line_that_gave_it(
    tmp_path: Path, yaml: str, line: int, problem: str
) -> None:
    path = config_with(tmp_path, yaml)
    config = load_config(path)

    with pytest.raises(ConfigError) as info:
        load_plugins(config)

    assert str(info.value) == f"{path}:{line}: {problem}"


# --- terms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("90 days", Period(PeriodKind.DAYS, 90)),
        ("1 day", Period(PeriodKind.DAYS, 1)),
        (" Month ", Period(PeriodKind.MONTH)),
        ("quarter", Period(PeriodKind.QUARTER)),
        ("agreement", Period(PeriodKind.AGREEMENT)),
    ],
)
def test_periods_read_as_a_coach_writes_them(text: str, period: Period) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize(
    ("text", "cadence"),
    [
        ("weekly", Cadence(7, "weekly")),
        ("fortnightly", Cadence(14, "fortnightly")),
        ("every 10 days", Cadence(10, "every 10 days")),
    ],
)
def test_cadences_read_as_a_coach_writes_them(text: str, cadence: Cadence) -> None:
    assert parse_cadence(text) == cadence


# --- standing ----------------------------------------------------------------


def moved(id_: int, at: datetime, notice: float = 48.0, excused: bool = False) -> Record:
    change = Change(
        ChangeKind.MOVED, "coaching", f"s{id_}", "", "Alice", "Coaching", at + 3 * DAY, at + 4 * DAY, notice, at
    )
    return Record(id_, change, at, excused, None)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def shown(records: list[Record], agreement: Agreement, events: tuple[EngagementEvent, ...] = ()) -> list[str]:
    return [s.describe() for s in standings(records, agreement, events, BERLIN)]


def test_the_allowance_per_90_days_starts_again_in_the_next_period() -> None:
    agreement = Agreement(allowance=2, per=Period(PeriodKind.DAYS, 90), started=date(2026, 1, 1))
    records = [moved(1, at("2026-03-01")), moved(2, at("2026-03-20")), moved(3, at("2026-03-31")),
               moved(4, at("2026-04-01")), moved(5, at("2026-04-02"))]  # fmt: skip

    # 1 Jan + 90 days = 1 Apr: the fourth change opens the second period.
    assert shown(records, agreement) == ["1 of 2", "2 of 2", "3 of 2 (over)", "1 of 2", "2 of 2"]


def test_a_no_show_marked_after_later_changes_counts_in_the_period_of_its_session() -> None:
    agreement = Agreement(allowance=2, per=Period(PeriodKind.DAYS, 90))
    missed = at("2026-11-24")
    change = Change(ChangeKind.NO_SHOW, "coaching", "s2", "", "Alice", "Coaching", missed, None, 0.0, missed)
    no_show = Record(2, change, at("2026-12-02"), False, None)
    # Recorded second, happened first: the periods count from the 24th, so all three share one period.
    records = [moved(1, at("2026-12-01")), no_show, moved(3, at("2026-12-10"))]

    assert shown(records, agreement) == ["1 of 2", "2 of 2", "3 of 2 (over)"]


def test_the_allowance_per_month_follows_the_calendar_month_in_the_coachs_zone() -> None:
    agreement = Agreement(allowance=1, per=Period(PeriodKind.MONTH))
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    late_january = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    records = [moved(1, at("2026-01-05")), moved(2, at("2026-01-20")), moved(3, late_january),
               moved(4, at("2026-02-10"))]  # fmt: skip

    assert shown(records, agreement) == ["1 of 1", "2 of 1 (over)", "1 of 1", "2 of 1 (over)"]


def test_nothing_before_the_agreement_started_counts() -> None:
    agreement = Agreement(started=date(2026, 9, 1))
    records = [moved(1, at("2026-08-31")), moved(2, at("2026-09-01"))]

    assert shown(records, agreement) == ["- (before the agreement started)", "1 of 2"]


def test_excused_changes_do_not_use_the_allowance_and_late_is_by_the_clients_own_notice() -> None:
    agreement = Agreement(notice_hours=48.0, allowance=1)
    records = [moved(1, at("2026-03-01"), notice=30.0, excused=True), moved(2, at("2026-03-02"), notice=30.0)]

    found = standings(records, agreement, (), BERLIN)

    assert [(s.late, s.counts, s.why_not, s.allowance_used) for s in found] == [
        (True, False, "excused", 0),
        (True, True, None, 1),
    ]


def test_a_revisit_starts_a_new_period_and_counts_over_periods_from_zero() -> None:
    agreement = Agreement(allowance=1, per=Period(PeriodKind.AGREEMENT))
    revisit = EngagementEvent(1, "Alice", EngagementKind.REVISIT, at("2026-03-10"), "coach")
    records = [moved(1, at("2026-03-01")), moved(2, at("2026-03-02")), moved(3, at("2026-03-11")),
               moved(4, at("2026-03-12"))]  # fmt: skip

    found = standings(records, agreement, (revisit,), BERLIN)

    assert [s.describe() for s in found] == ["1 of 1", "2 of 1 (over)", "1 of 1", "2 of 1 (over)"]
    assert [s.periods_over for s in found] == [0, 1, 0, 1]
    assert found[2].term_start == at("2026-03-10")


def test_changes_while_paused_or_ended_never_count() -> None:
    events = (
        EngagementEvent(1, "Alice", EngagementKind.PAUSE, at("2026-03-05"), "coach", until=date(2026, 3, 20)),
        EngagementEvent(2, "Alice", EngagementKind.END, at("2026-04-01"), "coach"),
    )
    records = [moved(1, at("2026-03-06")), moved(2, at("2026-03-21")), moved(3, at("2026-04-02"))]

    assert shown(records, Agreement(), events) == ["- (paused)", "1 of 2", "- (ended)"]


def test_check_says_where_to_move_late_notice_hours(tmp_path: Path) -> None:
    from support.cli import cli
    from support.scenario import Coach

    coach = Coach(tmp_path, extra_yaml="late_notice_hours: 36\n")
    line = coach.config_path.read_text().splitlines().index("late_notice_hours: 36") + 1

    result = cli(coach, "check")

    assert result.exit_code == 0
    assert (
        f"config: note: late_notice_hours (line {line}) is now agreement.notice_hours;"
        " move it under agreement: as notice_hours: 36"
    ) in result.stdout.splitlines()
