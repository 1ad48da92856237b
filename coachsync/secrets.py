"""Passwords for CalDAV and SMTP, read at the moment they are needed and never stored.

A secret never sits in the YAML. It comes, in this order, from the configured
`password_command` (e.g. `pass show mail/coach`), an environment variable, or a
systemd credential file (`LoadCredential=` puts it in $CREDENTIALS_DIRECTORY).
Error messages name where the secret was looked for, never what was read.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from .errors import CoachsyncError

COMMAND_TIMEOUT_SECONDS = 30.0


class SecretError(CoachsyncError):
    """A configured secret could not be read."""


def read_secret(*, what: str, command: str | None, env_var: str, credential: str) -> str | None:
    """The secret from the first place that has one, or None when none is configured.

    `what` names the setting in messages (e.g. "mail.smtp.password_command").
    """
    if command is not None:
        return _from_command(what, command)
    from_env = os.environ.get(env_var)
    if from_env:
        return from_env
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = Path(directory) / credential
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or type(error).__name__
                raise SecretError(f"cannot read the systemd credential {credential!r}: {reason}") from None
    return None


def _from_command(what: str, command: str) -> str:
    """Run without a shell; only the first line of its output is the secret (as `pass` prints it)."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise SecretError(f"{what}: cannot split the command: {error}") from None
    if not argv:
        raise SecretError(f"{what}: the command is empty")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SecretError(f"{what}: command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise SecretError(f"{what}: {argv[0]} did not finish within {COMMAND_TIMEOUT_SECONDS:g}s") from None
    except OSError as error:
        raise SecretError(f"{what}: cannot run {argv[0]}: {error.strerror}") from None
    if done.returncode != 0:
        # stderr may echo the secret or a path to it: say only that it failed.
        raise SecretError(f"{what}: {argv[0]} exited with status {done.returncode}")
    try:
        # Decoded here, as UTF-8 whatever the locale: a decoding error would name a byte of the secret.
        output = done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{what}: {argv[0]} printed text that is not UTF-8") from None
    secret = output.splitlines()[0] if output else ""
    if not secret:
        raise SecretError(f"{what}: {argv[0]} printed nothing")
    return secret
