"""The built-in policies, hook by hook: thresholds, free allowance, excused records, windows, steps."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pluggy
import pytest
from pydantic import ValidationError

import coachsync_plugins
from coachsync import hookspecs
from coachsync.api import (
    Agreement,
    Cadence,
    ClientInfo,
    Email,
    Fee,
    Period,
    PeriodKind,
    Recipient,
    Record,
    Suggestion,
)
from coachsync.errors import ConfigError
from coachsync.model import Change, ChangeKind, Occurrence
from coachsync.standing import standings
from coachsync.templates import TemplateRenderer
from coachsync_plugins import checkin, end_engagement, escalation_email, fee

from support.scenario import NOW, Coach

BERLIN = ZoneInfo("Europe/Berlin")
BUILT_IN_TERMS = Agreement()
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ALICE = ClientInfo("Alice Example", ("alice@example.com",))
RENDER = TemplateRenderer([Path(coachsync_plugins.__file__).parent / "templates"]).render


def record(
    id_: int,
    *,
    kind: ChangeKind = ChangeKind.MOVED,
    at: datetime = NOW,
    notice: float = 48.0,
    excused: bool = False,
    client: str | None = "Alice Example",
    uid: str | None = None,
) -> Record:
    """A change `at` a moment, of a session `notice` hours later, moved a day on (unless cancelled)."""
    old_start = at + timedelta(hours=notice)
    new_start = None if kind is ChangeKind.CANCELLED else old_start + DAY
    change = Change(
        kind=kind,
        calendar="coaching",
        uid=uid or f"s{id_}",
        recurrence_id="",
        client=client,
        summary="Coaching",
        old_start=old_start,
        new_start=new_start,
        notice_hours=notice,
        changed_at=at,
    )
    return Record(id_, change, at, excused, "ill" if excused else None)


def session(start: datetime) -> Occurrence:
    return Occurrence("coaching", f"at-{start:%m%d%H}", "", start, start + HOUR, "Coaching", client="Alice Example")


def run(
    module: Any,
    current: Record,
    history: Sequence[Record] = (),
    *,
    client: ClientInfo | None = ALICE,
    sessions: Sequence[Occurrence] = (),
    now: datetime = NOW,
    agreement: Agreement = BUILT_IN_TERMS,
    **settings: Any,
) -> list[Any]:
    # Through pluggy, as the core calls it: the plugin receives only the arguments it names.
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(module)
    [model] = manager.hook.coachsync_policy_settings()
    earlier = [r for r in history if r.id != current.id]
    [returned] = manager.hook.coachsync_on_change(
        agreement=agreement,
        standing=standings([*earlier, current], agreement, (), BERLIN)[-1],
        record=current,
        history=history,
        client=client,
        sessions=sessions,
        settings=model(enabled=True, **settings),
        render=RENDER,
        zone=BERLIN,
        now=now,
    )
    return list(returned)


# --- fee ---------------------------------------------------------------------

EUR40 = {"amount": Decimal("40.00"), "currency": "EUR"}


NO_ALLOWANCE = Agreement(allowance=0)


def test_late_move_beyond_the_allowance_owes_a_fee() -> None:
    late = record(1, notice=6.0)

    assert run(fee, late, agreement=NO_ALLOWANCE, **EUR40) == [
        Fee(
            Decimal("40.00"),
            "EUR",
            "session of Tue 1 Dec 2026, 19:00 rescheduled with 6 h notice (less than 24 h);"
            " 1 change this period, 0 allowed per 90 days",
        )
    ]


def test_late_changes_within_the_allowance_are_free_and_the_next_one_is_charged() -> None:
    first, second, third = (record(i, at=NOW + i * DAY, notice=3.0) for i in (1, 2, 3))
    early = record(4, at=NOW + 4 * DAY, notice=72.0)

    assert run(fee, first, **EUR40) == []
    assert run(fee, second, [first], **EUR40) == []
    [charged] = run(fee, third, [first, second], **EUR40)
    assert charged.reason.endswith("(less than 24 h); 3 changes this period, 2 allowed per 90 days")
    assert run(fee, early, [first, second, third], **EUR40) == []  # over the allowance, but on time


def test_late_is_by_the_clients_own_notice_period_unless_the_fee_overrides_it() -> None:
    change = record(1, notice=30.0)
    strict = Agreement(notice_hours=48.0, allowance=0)

    assert len(run(fee, change, agreement=strict, **EUR40)) == 1
    assert run(fee, change, agreement=strict, notice_hours=24.0, **EUR40) == []


def test_late_cancellation_says_cancelled() -> None:
    late = record(1, kind=ChangeKind.CANCELLED, notice=2.5)

    [charged] = run(fee, late, agreement=NO_ALLOWANCE, **EUR40)

    assert charged.reason.startswith("session of Tue 1 Dec 2026, 15:30 cancelled with 2.5 h notice (less than 24 h)")


def test_notice_of_exactly_notice_hours_is_not_late() -> None:
    assert run(fee, record(1, notice=24.0), agreement=NO_ALLOWANCE, **EUR40) == []
    assert len(run(fee, record(1, notice=23.99), agreement=NO_ALLOWANCE, **EUR40)) == 1


def test_free_allowance_covers_the_first_late_ones_only() -> None:
    first, second, third = (record(i, at=NOW + i * DAY, notice=3.0) for i in (1, 2, 3))

    assert run(fee, first, free_reschedules=2, **EUR40) == []
    assert run(fee, second, [first], free_reschedules=2, **EUR40) == []
    [charged] = run(fee, third, [first, second], free_reschedules=2, **EUR40)
    assert charged.reason == "session of Fri 4 Dec 2026, 16:00 rescheduled with 3 h notice (less than 24 h)"


def test_excused_and_early_changes_do_not_use_the_allowance() -> None:
    excused = record(1, notice=3.0, excused=True)
    early = record(2, notice=72.0)
    late = record(3, notice=3.0)

    assert run(fee, late, [excused, early], free_reschedules=1, **EUR40) == []


def test_a_cancellation_undone_by_a_restore_does_not_use_the_allowance() -> None:
    cancelled = record(1, kind=ChangeKind.CANCELLED, notice=3.0, uid="a1")
    restored = record(2, kind=ChangeKind.RESTORED, notice=2.0, uid="a1")
    late = record(3, notice=3.0)

    assert run(fee, late, [cancelled, restored], free_reschedules=1, **EUR40) == []
    assert len(run(fee, late, [cancelled], free_reschedules=1, **EUR40)) == 1


def test_restored_sessions_excused_changes_and_unmatched_events_are_never_charged() -> None:
    assert run(fee, record(1, kind=ChangeKind.RESTORED, notice=1.0), **EUR40) == []
    assert run(fee, record(1, notice=1.0, excused=True), **EUR40) == []
    assert run(fee, record(1, notice=1.0, client=None), client=None, **EUR40) == []


@pytest.mark.parametrize(
    ("given", "kept"),
    [(40, Decimal("40.00")), (12.5, Decimal("12.50")), (Decimal("7.25"), Decimal("7.25")), (0.01, Decimal("0.01"))],
)
def test_fee_amount_from_yaml_numbers_is_kept_as_decimal(given: object, kept: Decimal) -> None:
    settings = fee.FeeSettings(enabled=True, amount=given, currency="eur")

    assert (settings.amount, type(settings.amount), settings.currency) == (kept, Decimal, "EUR")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"amount": "40", "currency": "EUR"}, "expected an amount such as 40 or 12.50, got '40'"),
        ({"amount": 0, "currency": "EUR"}, "must be greater than 0, got 0"),
        ({"amount": -5, "currency": "EUR"}, "must be greater than 0, got -5"),
        ({"amount": 40.123, "currency": "EUR"}, "use at most 2 decimal places, got 40.123"),
        ({"amount": True, "currency": "EUR"}, "expected an amount such as 40 or 12.50, got bool"),
        ({"amount": 40, "currency": "EURO"}, "expected a 3-letter currency code such as EUR or USD, got 'EURO'"),
        ({"currency": "EUR"}, "set amount when the fee is enabled, e.g. amount: 40, currency: EUR"),
        ({}, "set amount and currency when the fee is enabled, e.g. amount: 40, currency: EUR"),
    ],
)
def test_fee_settings_refuse_what_is_not_money(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        fee.FeeSettings(enabled=True, **settings)

    assert [e["ctx"]["error"].args[0] for e in caught.value.errors()] == [problem]


def test_fee_settings_error_names_file_line_and_key(tmp_path: Path) -> None:
    coach = Coach(
        tmp_path,
        extra_yaml=textwrap.dedent(
            """\
            policies:
              fee:
                enabled: true
                amount: "40"
                currency: EUR
            """
        ),
    )

    with pytest.raises(ConfigError) as caught:
        coach.app()

    assert str(caught.value) == (
        f"{coach.config_path}:17: policies.fee.amount: expected an amount such as 40 or 12.50, got '40'"
    )


# --- escalation_email ----------------------------------------------------------


def reschedules(count: int, *, every: timedelta = 10 * DAY, first: datetime = NOW) -> list[Record]:
    return [record(i + 1, at=first + i * every) for i in range(count)]


def test_third_reschedule_within_the_window_sends_a_warm_check_in_to_the_client() -> None:
    *earlier, third = reschedules(3)

    [email] = run(escalation_email, third, earlier, trigger="after")

    assert email == Email(
        to=Recipient.CLIENT,
        subject="Checking in, Alice",
        body=(
            "Hi Alice,\n\n"
            "our sessions have moved 3 times in the last 90 days, most recently the one on Wed 23 Dec 2026, 13:00."
            " Life happens, and that is completely fine. I simply wanted to ask: is everything okay?\n\n"
            "If something has changed for you (work, health, family, or how our sessions fit into your week),"
            " I would really like to hear about it. Together we can find a rhythm that works better for you.\n\n"
            "As a reminder of what we agreed: a session can be moved with at least 24 h notice, and 2 reschedules"
            " within 90 days are no problem at all.\n\n"
            "Just reply to this email whenever it suits you.\n\n"
            "Warm regards\n"
        ),
        require_approval=True,
        once_per="Alice Example:step-1",
    )


def test_two_reschedules_are_still_fine() -> None:
    first, second = reschedules(2)

    assert run(escalation_email, second, [first], trigger="after") == []


def test_excused_reschedules_do_not_count_towards_escalation() -> None:
    first, second, third = reschedules(3)
    excused = Record(first.id, first.change, first.detected_at, True, "flu")

    assert run(escalation_email, third, [excused, second], trigger="after") == []


def test_a_reschedule_exactly_within_days_ago_still_counts() -> None:
    first = record(1, at=NOW)
    second = record(2, at=NOW + 40 * DAY)
    on_the_boundary = record(3, at=NOW + 90 * DAY)
    one_second_late = record(3, at=NOW + 90 * DAY + timedelta(seconds=1))

    assert len(run(escalation_email, on_the_boundary, [first, second], trigger="after")) == 1
    assert run(escalation_email, one_second_late, [first, second], trigger="after") == []


def test_each_step_is_asked_for_once_per_client_and_step() -> None:
    history = reschedules(7, every=DAY)

    keys = [[e.once_per for e in run(escalation_email, r, history[: r.id - 1], trigger="after")] for r in history]

    # The 4th and 5th reach step 1 again; the core records an email once per key, so it is never repeated.
    assert keys == [
        [],
        [],
        ["Alice Example:step-1"],
        ["Alice Example:step-1"],
        ["Alice Example:step-1"],
        ["Alice Example:step-2"],
        ["Alice Example:step-2"],
    ]


def test_a_second_burst_months_later_is_a_new_step() -> None:
    january = reschedules(3, every=DAY, first=NOW)
    june = [record(i, at=NOW + 180 * DAY + i * DAY) for i in (4, 5, 6)]

    assert run(escalation_email, june[1], january + june[:1], trigger="after") == []
    assert [e.once_per for e in run(escalation_email, june[2], january + june[:2], trigger="after")] == [
        "Alice Example:step-2"
    ]


def test_escalation_to_the_coach_summarises_the_recent_history() -> None:
    *earlier, third = reschedules(3)

    [email] = run(escalation_email, third, earlier, to="coach", trigger="after")

    assert (email.to, email.require_approval, email.once_per) == (Recipient.COACH, False, "Alice Example:step-1")
    assert email.subject == "Alice Example: 3 reschedules in the last 90 days"
    assert email.body == (
        "Alice Example has reached step 1: 3 unexcused reschedules or cancellations in the last 90 days"
        " (your threshold is 3).\n\n"
        "Recent history, oldest first:\n"
        "- #1 Tue 1 Dec 2026, 13:00: moved the session of Thu 3 Dec 2026, 13:00 to Fri 4 Dec 2026, 13:00, 48 h notice\n"
        "- #2 Fri 11 Dec 2026, 13:00: moved the session of Sun 13 Dec 2026, 13:00 to Mon 14 Dec 2026, 13:00,"
        " 48 h notice\n"
        "- #3 Mon 21 Dec 2026, 13:00: moved the session of Wed 23 Dec 2026, 13:00 to Thu 24 Dec 2026, 13:00,"
        " 48 h notice\n\n"
        'This may be a good moment for a personal "is everything okay?" conversation, or for revisiting the'
        " agreement together (`coachsync agreement revisit 'Alice Example'`).\n"
        "If one of these was excused (illness, emergency, a change of yours), mark it with"
        " `coachsync excuse ID --reason TEXT` and it no longer counts.\n"
    )


def test_a_threshold_of_one_reads_in_the_singular() -> None:
    [first] = reschedules(1)

    [coach_email] = run(escalation_email, first, after=1, to="coach", trigger="after")
    [client_email] = run(escalation_email, first, after=1, trigger="after")
    [suggestion] = run(end_engagement, first, after=1, trigger="after")

    assert coach_email.subject == "Alice Example: 1 reschedule in the last 90 days"
    assert coach_email.body.startswith(
        "Alice Example has reached step 1: 1 unexcused reschedule or cancellation in the last 90 days"
    )
    assert "our sessions have moved 1 time in the last 90 days" in client_email.body
    assert suggestion.text.startswith(
        "By Tue 1 Dec 2026, 13:00, Alice Example had rescheduled or cancelled 1 time without an excuse in the last"
        " 120 days (step 1)."
    )


def test_escalation_without_a_client_address_becomes_a_suggestion() -> None:
    *earlier, third = reschedules(3)

    [suggestion] = run(escalation_email, third, earlier, client=ClientInfo("Alice Example", ()), trigger="after")

    assert suggestion == Suggestion(
        "By Mon 21 Dec 2026, 13:00, Alice Example had 3 unexcused reschedules in the last 90 days (step 1), but has"
        " no email address in the config for a check-in. Consider reaching out.",
        once_per="Alice Example:step-1",
    )


def test_escalation_ignores_restorations_and_unmatched_events() -> None:
    *earlier, third = reschedules(3)
    restored = record(3, kind=ChangeKind.RESTORED, at=third.change.changed_at)
    unmatched = record(3, client=None, at=third.change.changed_at)

    assert run(escalation_email, restored, earlier, trigger="after") == []
    assert run(escalation_email, unmatched, [], client=None, trigger="after") == []


# --- end_engagement ------------------------------------------------------------


def test_fifth_reschedule_in_120_days_suggests_revisiting_the_engagement() -> None:
    history = reschedules(5, every=20 * DAY)
    *earlier, fifth = history

    [suggestion] = run(end_engagement, fifth, earlier, trigger="after")

    lines = "\n".join(
        [
            "- #1 Tue 1 Dec 2026, 13:00: moved the session of Thu 3 Dec 2026, 13:00 to Fri 4 Dec 2026, 13:00,"
            " 48 h notice",
            "- #2 Mon 21 Dec 2026, 13:00: moved the session of Wed 23 Dec 2026, 13:00 to Thu 24 Dec 2026, 13:00,"
            " 48 h notice",
            "- #3 Sun 10 Jan 2027, 13:00: moved the session of Tue 12 Jan 2027, 13:00 to Wed 13 Jan 2027, 13:00,"
            " 48 h notice",
            "- #4 Sat 30 Jan 2027, 13:00: moved the session of Mon 1 Feb 2027, 13:00 to Tue 2 Feb 2027, 13:00,"
            " 48 h notice",
            "- #5 Fri 19 Feb 2027, 13:00: moved the session of Sun 21 Feb 2027, 13:00 to Mon 22 Feb 2027, 13:00,"
            " 48 h notice",
        ]
    )
    assert suggestion == Suggestion(
        "By Fri 19 Feb 2027, 13:00, Alice Example had rescheduled or cancelled 5 times without an excuse in the last"
        " 120 days (step 1)."
        " It may be time to revisit the coaching agreement together (`coachsync agreement revisit 'Alice Example'`),"
        " to pause (`coachsync client pause 'Alice Example'`), or to end the engagement"
        " (`coachsync client end 'Alice Example'`).\n"
        f"What led here:\n{lines}",
        once_per="Alice Example:step-1",
    )


def test_end_engagement_needs_all_of_them_within_the_window() -> None:
    history = reschedules(5, every=31 * DAY)  # the first is 124 days before the fifth

    assert run(end_engagement, history[-1], history[:-1], trigger="after") == []
    assert run(end_engagement, history[3], history[:3], trigger="after") == []


def test_end_engagement_steps_and_excused_records() -> None:
    history = reschedules(10, every=DAY)
    excused = [Record(r.id, r.change, r.detected_at, True, "coach moved it") for r in history[:1]]

    assert [s.once_per for s in run(end_engagement, history[9], history[:9], trigger="after")] == [
        "Alice Example:step-2"
    ]
    assert run(end_engagement, history[4], excused + history[1:4], trigger="after") == []
    assert run(end_engagement, record(11, kind=ChangeKind.RESTORED, at=NOW + 10 * DAY), history, trigger="after") == []


# --- checkin -------------------------------------------------------------------


def test_a_move_that_leaves_a_long_gap_sends_a_reflection_prompt() -> None:
    moved = record(1, notice=48.0)  # the session was on 3 Dec
    later = session(datetime(2026, 12, 17, 9, 0, tzinfo=UTC))  # 14 days on

    [email] = run(checkin, moved, sessions=[later])

    assert email == Email(
        to=Recipient.CLIENT,
        subject="A few questions until our next session",
        body=(
            "Hi Alice,\n\n"
            "our next session is on Thu 17 Dec 2026, 10:00, a little while away. To keep the momentum going until"
            " then, here are a few questions to reflect on, in writing or on a walk:\n\n"
            "1. What has moved forward since we last spoke, however small?\n"
            "2. What is getting in the way right now?\n"
            "3. What would make our next conversation most useful for you?\n\n"
            "No need to answer them by email; bring whatever comes up to our next session.\n\n"
            "Warm regards\n"
        ),
        require_approval=False,
    )


def test_a_gap_of_exactly_gap_days_is_not_too_long() -> None:
    moved = record(1, notice=48.0)
    old_slot = moved.change.old_start

    assert run(checkin, moved, sessions=[session(old_slot + 10 * DAY)]) == []
    assert len(run(checkin, moved, sessions=[session(old_slot + 10 * DAY + timedelta(minutes=1))])) == 1
    assert len(run(checkin, moved, sessions=[session(old_slot + 5 * DAY)], gap_days=4)) == 1


def test_the_gap_runs_from_the_old_slot_not_from_earlier_sessions() -> None:
    moved = record(1, notice=48.0)
    before = session(moved.change.old_start - DAY)
    soon_after = session(moved.change.old_start + 3 * DAY)

    assert run(checkin, moved, sessions=[before, soon_after]) == []
    assert len(run(checkin, moved, sessions=[before])) == 1


def test_nothing_booked_after_a_cancellation_is_the_longest_gap() -> None:
    cancelled = record(1, kind=ChangeKind.CANCELLED, notice=48.0)

    [email] = run(checkin, cancelled, sessions=[])

    assert email.body.startswith("Hi Alice,\n\nwe have no next session booked yet. To keep the momentum going")
    assert "Reply whenever you would like to book it." in email.body


def test_checkin_skips_restorations_unmatched_events_and_clients_without_email() -> None:
    assert run(checkin, record(1, kind=ChangeKind.RESTORED)) == []
    assert run(checkin, record(1, client=None), client=None) == []
    assert run(checkin, record(1), client=ClientInfo("Carmen Diaz", ())) == []


def test_calendar_text_in_values_is_printed_never_run() -> None:
    hostile = ClientInfo("{{ 7 * 7 }} {% raw %}", ("x@example.com",))

    [email] = run(checkin, record(1, client=hostile.name), client=hostile)

    assert email.body.startswith("Hi {{,\n")


# --- over the allowance (the default trigger) ----------------------------------

MONTHLY_ONE = Agreement(allowance=1, per=Period(PeriodKind.MONTH))


def over_allowance(
    module: Any, history: list[Record], agreement: Agreement = MONTHLY_ONE, **settings: Any
) -> list[list[str]]:
    """What `module` asks for at each record of `history`, as once_per keys, in order."""
    return [[a.once_per for a in run(module, r, history[: r.id - 1], agreement=agreement, **settings)] for r in history]


def test_the_escalation_goes_out_with_the_first_change_over_the_allowance_once_per_period() -> None:
    # December: 3 changes (allowance 1: the second goes over); January: 1; February: 2.
    days = ["2026-12-02", "2026-12-09", "2026-12-16", "2027-01-13", "2027-02-03", "2027-02-10"]
    history = [record(i + 1, at=datetime.fromisoformat(d).replace(hour=12, tzinfo=UTC)) for i, d in enumerate(days)]

    assert over_allowance(escalation_email, history, to="coach") == [
        [],
        ["Alice Example:period-2026-12-01T00:00:00+01:00"],
        [],
        [],
        [],
        ["Alice Example:period-2027-02-01T00:00:00+01:00"],
    ]
    [email] = run(escalation_email, history[5], history[:5], agreement=MONTHLY_ONE, to="coach")
    assert email.subject == "Alice Example: 2 reschedules since Mon 1 Feb 2027"
    assert email.body.startswith(
        "Alice Example has reached step 2: 2 unexcused reschedules or cancellations since Mon 1 Feb 2027"
        " (the agreement allows 1 reschedule a month).\n\nRecent history, oldest first:\n- #5 Wed 3 Feb 2027"
    )


def test_the_client_check_in_restates_the_allowance_of_the_agreement() -> None:
    *earlier, third = reschedules(3)

    [email] = run(escalation_email, third, earlier, agreement=Agreement(notice_hours=48.0))

    assert "our sessions have moved 3 times since Tue 1 Dec 2026, most recently" in email.body
    assert (
        "a session can be moved with at least 48 h notice, and 2 reschedules within 90 days are no problem at all."
        in email.body
    )
    assert email.once_per == "Alice Example:period-2026-12-01T00:00:00+01:00"


def test_after_or_within_days_alone_keeps_the_earlier_rule() -> None:
    *earlier, third = reschedules(3)

    assert escalation_email.EscalationSettings(enabled=True).rule == "over_allowance"
    assert escalation_email.EscalationSettings(enabled=True, after=3).rule == "after"
    assert escalation_email.EscalationSettings(enabled=True, within_days=60, trigger="over_allowance").rule == (
        "over_allowance"
    )
    [email] = run(escalation_email, third, earlier, after=3)
    assert email.once_per == "Alice Example:step-1"


def test_the_end_engagement_suggestion_waits_for_the_second_period_over() -> None:
    days = ["2026-12-02", "2026-12-09", "2027-01-13", "2027-01-20", "2027-02-10", "2027-02-17"]
    history = [record(i + 1, at=datetime.fromisoformat(d).replace(hour=12, tzinfo=UTC)) for i, d in enumerate(days)]

    assert over_allowance(end_engagement, history) == [
        [],
        [],
        [],
        ["Alice Example:period-2027-01-01T00:00:00+01:00"],
        [],
        ["Alice Example:period-2027-02-01T00:00:00+01:00"],
    ]
    [suggestion] = run(end_engagement, history[3], history[:3], agreement=MONTHLY_ONE)
    assert suggestion.text.startswith(
        "By Wed 20 Jan 2027, 13:00, Alice Example had gone over the agreed allowance (1 reschedule a month) in"
        " 2 periods of the current agreement, this time with 2 changes since Fri 1 Jan 2027. It may be time to"
        " revisit the coaching agreement together (`coachsync agreement revisit 'Alice Example'`), to pause"
        " (`coachsync client pause 'Alice Example'`), or to end the engagement"
        " (`coachsync client end 'Alice Example'`).\nWhat led here:\n- #3 Wed 13 Jan 2027"
    )


def test_without_gap_days_the_checkin_allows_one_and_a_half_times_the_cadence() -> None:
    moved = record(1, notice=48.0)
    old_slot = moved.change.old_start
    fortnightly = Agreement(cadence=Cadence(14, "fortnightly"))

    assert run(checkin, moved, sessions=[session(old_slot + 21 * DAY)], agreement=fortnightly) == []
    assert len(run(checkin, moved, sessions=[session(old_slot + 22 * DAY)], agreement=fortnightly)) == 1
    # A coach's own gap_days still wins over the cadence.
    assert len(run(checkin, moved, sessions=[session(old_slot + 8 * DAY)], agreement=fortnightly, gap_days=7)) == 1


def test_no_checkin_for_a_change_that_does_not_count() -> None:
    moved = record(1, notice=48.0, excused=True)

    assert run(checkin, moved, sessions=[]) == []
