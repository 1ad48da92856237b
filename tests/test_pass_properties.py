"""Properties of a whole pass, from calendar text through the database, on generated calendars."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from support.ical import HOUR, session
from support.scenario import NOW, Coach

SLOT = timedelta(minutes=30)

# Distinct future half-hour slots, so no two sessions collide before or after a move.
slots = st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=25, unique=True)


@st.composite
def calendars_with_moves(draw: st.DrawFn) -> tuple[list[int], dict[int, int]]:
    """Session slots, and for a random subset of sessions the free slot each moves to."""
    starts = draw(slots)
    free = st.integers(min_value=2001, max_value=4000)
    moved = draw(st.lists(st.sampled_from(range(len(starts))), unique=True))
    targets = draw(st.lists(free, min_size=len(moved), max_size=len(moved), unique=True))
    return starts, dict(zip(moved, targets, strict=True))


@settings(max_examples=30, deadline=None)
@given(calendars_with_moves(), st.sampled_from(["alice@example.com", "nobody@example.com"]))
def test_every_session_moved_in_the_file_is_recorded_once(case: tuple[list[int], dict[int, int]], email: str) -> None:
    starts, moves = case
    with tempfile.TemporaryDirectory() as directory:
        coach = Coach(Path(directory))
        coach.write(*(session(f"s{i}", NOW + slot * SLOT, email) for i, slot in enumerate(starts)))
        app = coach.app()
        app.sync_calendar("coaching", NOW)
        coach.write(*(session(f"s{i}", NOW + moves.get(i, slot) * SLOT, email) for i, slot in enumerate(starts)))

        app.sync_calendar("coaching", NOW)
        again = app.sync_calendar("coaching", NOW + HOUR)

        records = app.store.history.records()
        assert sorted((r.change.kind.value, r.change.uid) for r in records) == sorted(("moved", f"s{i}") for i in moves)
        assert {r.change.uid: r.change.new_start for r in records} == {
            f"s{i}": NOW + target * timedelta(minutes=30) for i, target in moves.items()
        }
        assert again.changes == ()
        app.store.close()
