"""Tables line up by display width: a CJK or emoji name takes the columns a terminal gives it."""

from __future__ import annotations

import re

import wcwidth

from coachsync.tables import cell, table

from support.cli import cli
from support.ical import session
from support.scenario import NOW, Coach


def test_columns_line_up_by_display_width() -> None:
    rows = [("山田太郎", "2"), ("Bob", "10"), ("👩\u200d💻 Dev", "1"), ("Zoë", "0")]

    assert table(("CLIENT", "UPCOMING"), rows).splitlines() == [
        "CLIENT    UPCOMING",
        "山田太郎  2",
        "Bob       10",
        "👩\u200d💻 Dev    1",
        "Zoë       0",
    ]


def test_a_cell_is_cut_to_its_display_width_never_inside_a_character() -> None:
    assert [cell("山田太郎の面談", n) for n in (8, 7, 6)] == ["山田太…", "山田太…", "山田…"]
    assert cell("short", 5) == "short"
    assert cell("a\n  b   c", 40) == "a b c"
    assert [wcwidth.width(cell("👩\u200d💻👩\u200d💻👩\u200d💻 team", n)) <= n for n in range(2, 12)] == [True] * 10


def test_the_clients_table_lines_up_with_a_cjk_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    coach = Coach(tmp_path, extra_yaml="  - name: 山田太郎\n    emails: [yamada@example.com]\n")
    coach.write(session("y1", NOW.replace(day=10), "yamada@example.com"), session("a1", NOW.replace(day=11)))
    assert cli(coach, "sync").exit_code == 0

    lines = cli(coach, "clients").output.splitlines()

    second_column = [wcwidth.width(re.match(r".*?\S {2,}", line)[0]) for line in lines]  # type: ignore[index]
    assert [line.split()[0] for line in lines] == ["CLIENT", "Alice", "Bob", "Carmen", "山田太郎"]
    assert second_column == [second_column[0]] * len(lines), "\n".join(lines)
