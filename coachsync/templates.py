"""Email templates: files a coach can override, rendered in Jinja2's sandbox.

A template is a text file whose first line is `Subject: …`, then a blank
line, then the body. Templates come from coachsync or a plugin, or from the
coach's `mail.templates_dir`; calendar text only ever arrives as a value
passed to `render`, so it is printed, never run as template code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import CoachsyncError


class TemplateError(CoachsyncError):
    """A template is missing or broken; the message names the file."""


class TemplateRenderer:
    """Looks a template up in each directory in turn, so the coach's copy wins."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self._environment = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(d) for d in directories]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain-text mail; nothing is ever sent as HTML
            keep_trailing_newline=True,
        )

    def render(self, name: str, values: Mapping[str, Any]) -> tuple[str, str]:
        """(subject, body) of template `name` filled with `values`.

        The subject line and the body are split in the template's source, before
        any value is filled in, and the subject is folded onto one line: a value
        with line breaks in it can never add a header or move text between parts.
        """
        try:
            source, filename, _ = self._environment.loader.get_source(self._environment, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            raise TemplateError(f"email template {name!r} not found; check mail.templates_dir") from None
        head, blank, body_source = source.partition("\n\n")
        if not head.startswith("Subject:") or "\n" in head or not blank:
            raise TemplateError(f"email template {filename} must start with one 'Subject: …' line, then a blank line")
        subject = self._fill(head.removeprefix("Subject:"), values, filename, first_line=1)
        body = self._fill(body_source, values, filename, first_line=3)
        return " ".join(subject.split()), body.strip() + "\n"

    def _fill(self, source: str, values: Mapping[str, Any], filename: str | None, first_line: int) -> str:
        try:
            return self._environment.from_string(source).render(dict(values))
        except jinja2.TemplateError as error:
            line = getattr(error, "lineno", None)
            where = f"{filename}:{first_line + line - 1}" if line else filename
            raise TemplateError(f"email template {where}: {error.message}") from None
