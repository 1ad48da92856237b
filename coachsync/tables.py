"""Plain-text tables for the terminal, measured in display columns.

A CJK character or an emoji takes two columns, a combining accent none;
counting characters instead (`len`) puts every later column out of line.
wcwidth knows the widths, grapheme clusters included; it is imported only
for text that is not plain ASCII, which keeps it out of most commands' start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from .text import one_line, shorten

__all__ = ["cell", "table", "width"]


def _plain(text: str) -> bool:
    """Printable ASCII, where a character is a column."""
    return text.isascii() and text.isprintable()


def width(text: str) -> int:
    """How many columns a terminal gives `text`."""
    if _plain(text):
        return len(text)
    import wcwidth

    return int(wcwidth.width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns two spaces apart, each as wide as its widest cell; no trailing spaces."""
    lines = [[str(c) for c in line] for line in (headers, *rows)]
    widths = [max(width(c) for c in column) for column in zip(*lines, strict=True)]
    return "\n".join(
        "  ".join(c + " " * (w - width(c)) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def cell(text: str, limit: int = 40) -> str:
    """A table cell: one line, at most `limit` columns, ending in "…" when cut, never inside a character."""
    flat = one_line(text)
    if width(flat) <= limit:
        return flat
    if _plain(flat):
        return shorten(flat, limit)
    import wcwidth

    # clip pads a wide character it would split with a space; drop that, the ellipsis follows the text.
    return str(wcwidth.clip(flat, 0, limit - 1)).rstrip(" ") + "…"
