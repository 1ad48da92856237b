"""The test calendar builder folds as RFC 5545 asks: at most 75 octets a line, never inside a UTF-8 character."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from coachsync.clients import ClientMatcher
from coachsync.ics import Window, parse_groups, split_calendar

from support.ical import fold, unfold, vcalendar, vevent

# Umlauts are 2 octets in UTF-8, the coffee cup 3, the emoji 4: a character-counting fold gets these wrong.
SUMMARY = "Coaching mit Jürgen Größe-Übermaß ☕ und 🧘‍♀️ Achtsamkeit, danach Käsespätzle 🎉🎉🎉 für alle"


def octets(line: str) -> int:
    return len(line.encode("utf-8"))


def test_a_long_line_of_umlauts_and_emoji_is_folded_to_75_octets_and_unfolds_to_the_original() -> None:
    line = f"SUMMARY:{SUMMARY}"
    assert octets(line[:75]) > 75  # cutting after 75 characters would overflow the line

    parts = fold(line)

    assert len(parts) > 1
    assert [octets(part) <= 75 for part in parts] == [True] * len(parts)
    assert all(part.startswith(" ") for part in parts[1:])
    # each part is whole UTF-8 on its own, and the parts' octets are the line's octets, in order
    assert b"".join(part.encode("utf-8") for part in [parts[0], *(p[1:] for p in parts[1:])]) == line.encode("utf-8")
    assert unfold("\r\n".join(parts)) == line


def test_a_line_that_fits_is_left_alone() -> None:
    line = "SUMMARY:" + "ü" * 33  # 8 + 66 = 74 octets
    assert fold(line) == [line]
    assert fold(line + "ü") == [line, " ü"]  # 76 octets: the umlaut moves whole to the next line


def test_the_first_line_uses_all_75_octets_and_continuations_count_their_space() -> None:
    parts = fold("X" * 200)

    assert [octets(part) for part in parts] == [75, 75, 52]
    assert unfold("\n".join(parts)) == "X" * 200


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=400))
def test_every_folded_part_fits_and_unfolding_gives_back_the_line(text: str) -> None:
    line = f"DESCRIPTION:{text}"

    parts = fold(line)

    assert all(octets(part) <= 75 for part in parts)
    assert all(part.startswith(" ") and len(part) > 1 for part in parts[1:])
    assert unfold("\r\n".join(parts)) == line


def test_coachsync_reads_the_folded_summary_back_whole() -> None:
    text = vcalendar(vevent("s1", datetime(2026, 3, 5, 9, tzinfo=UTC), summary=SUMMARY))
    assert max(octets(line) for line in text.split("\r\n")) == 75

    split = split_calendar(text)
    parsed = parse_groups(
        split,
        split.groups,
        calendar_name="coaching",
        window=Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)),
        zone=UTC,
        match_client=ClientMatcher([]),
    )

    assert [o.summary for o in parsed.occurrences["s1"]] == [SUMMARY]
