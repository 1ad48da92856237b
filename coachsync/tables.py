"""Plain-text tables for the terminal, measured in display columns.

A CJK character or an emoji takes two columns, a combining accent none;
counting characters instead (`len`) puts every later column out of line.
wcwidth knows the widths, grapheme clusters included.
"""

from __future__ import annotations

from collections.abc import Sequence

import wcwidth

from .text import one_line

__all__ = ["cell", "table", "width"]


def width(text: str) -> int:
    """How many columns a terminal gives `text`."""
    return int(wcwidth.width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns two spaces apart, each as wide as its widest cell; no trailing spaces."""
    widths = [max(width(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(wcwidth.ljust(str(c), w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    )


def cell(text: str, limit: int = 40) -> str:
    """A table cell: one line, at most `limit` columns, ending in "…" when cut, never inside a character."""
    flat = one_line(text)
    if width(flat) <= limit:
        return flat
    # clip pads a wide character it would split with a space; drop that, the ellipsis follows the text.
    return str(wcwidth.clip(flat, 0, limit - 1)).rstrip(" ") + "…"
