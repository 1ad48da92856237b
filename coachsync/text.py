"""Text as one line: for log fields, error messages and table cells."""

from __future__ import annotations


def one_line(text: str, limit: int | None = None) -> str:
    """Runs of whitespace (line breaks included) become one space; longer than `limit` ends in "…"."""
    flat = " ".join(text.split())
    return shorten(flat, limit) if limit is not None else flat


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
