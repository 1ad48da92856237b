"""Errors a coach can act on; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class CoachsyncError(Exception):
    """Base class: the message is a single line that says what to fix."""

    exit_code = 1


class ConfigError(CoachsyncError):
    """The YAML config is wrong; the message reads `FILE:LINE: KEY: what is wrong`."""

    exit_code = 2

    def __init__(self, file: str, line: int | None, key: str, problem: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {key}: {problem}")


class SourceError(CoachsyncError):
    """A calendar could not be read completely; the pass is skipped, nothing recorded."""


class MassChangeError(CoachsyncError):
    """A pass would cancel too many upcoming sessions at once; the coach must confirm."""

    def __init__(self, calendar: str, cancelled: int, upcoming: int) -> None:
        self.calendar = calendar
        self.cancelled = cancelled
        self.upcoming = upcoming
        super().__init__(
            f"{calendar}: this pass would cancel {cancelled} of {upcoming} upcoming sessions at once, which looks"
            " like a mistake (a wrong calendar or an emptied export); nothing was recorded. If it is real, run"
            " `coachsync sync --accept-mass-change`"
        )


class NotFoundError(CoachsyncError):
    """A record named on the command line does not exist."""

    exit_code = 2


class RefusedError(CoachsyncError):
    """A command that cannot be done in the state things are in (resuming an active client); nothing changed."""

    exit_code = 2


class PluginError(CoachsyncError):
    """A policy plugin cannot be loaded; the message names it and where it came from."""

    exit_code = 2
