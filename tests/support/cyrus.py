"""Cyrus IMAP's CalDAV server (Debian: cyrus-caldav, cyrus-imapd, sasl2-bin) on 127.0.0.1 for tests.

One `master` process serves HTTP (CalDAV) and IMAP on ports chosen at run
time, from a configuration written into a fresh directory: nothing of the
system's Cyrus is used or touched. Users log in with passwords from a sasldb
file of that directory; each test gets a user of its own, whose INBOX the
admin creates over IMAP (Cyrus provisions the CalDAV home on first login
only for a user that exists). Cyrus refuses to run as root, so the daemon
runs as the `cyrus` user the package creates, which is why the tests that
use it must run as root.
"""

from __future__ import annotations

import imaplib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

from support.ports import free_port
from support.wait import wait_for

BIN = Path("/usr/lib/cyrus/bin")
ADMIN = "admin"
ADMIN_PASSWORD = "admin secret"
REALM = "localhost"
_STARTUP_SECONDS = 20.0


def missing() -> str | None:
    """Why Cyrus cannot run here, or None."""
    if not (BIN / "master").is_file() or not (BIN / "imapd").is_file() or shutil.which("saslpasswd2") is None:
        return "Cyrus is not installed (apt-get install cyrus-caldav cyrus-imapd sasl2-bin; `make test-servers` does)"
    if os.geteuid() != 0:
        return "Cyrus runs as the cyrus user, which only root can start it as"
    return None


def accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class CyrusDaemon:
    """One Cyrus `master` with CalDAV on `port`; `stop()` and `start()` keep the port and the data."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: the cyrus user must be able to reach its files.
        self.root = Path(tempfile.mkdtemp(prefix="coachsync-cyrus-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.imap_port = free_port()
        self._users = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._configure()

    @property
    def conf(self) -> Path:
        return self.root / "imapd.conf"

    def _configure(self) -> None:
        for folder in ("config", "spool", "sieve", "run"):
            (self.root / folder).mkdir()
        for folder in ("db", "proc", "socket", "log", "lock", "msg", "ptclient", "sync", "user", "quota"):
            (self.root / "config" / folder).mkdir()
        self.conf.write_text(
            textwrap.dedent(
                f"""\
                configdirectory: {self.root}/config
                partition-default: {self.root}/spool
                sievedir: {self.root}/sieve
                admins: {ADMIN}
                servername: {REALM}
                sasl_pwcheck_method: auxprop
                sasl_auxprop_plugin: sasldb
                sasl_sasldb_path: {self.root}/sasldb2
                sasl_mech_list: PLAIN
                allowplaintext: yes
                httpmodules: caldav
                httpallowcompress: no
                caldav_create_default: no
                caldav_create_attach: no
                caldav_create_sched: no
                delete_mode: immediate
                expunge_mode: immediate
                idlesocket: {self.root}/run/idle
                lmtpsocket: {self.root}/run/lmtp
                notifysocket: {self.root}/run/notify
                syslog_prefix: coachsync-tests-cyrus
                """
            ),
            encoding="utf-8",
        )
        tool = f"-C {self.conf}"
        (self.root / "cyrus.conf").write_text(
            textwrap.dedent(
                f"""\
                START {{
                  recover cmd="{BIN}/ctl_cyrusdb {tool} -r"
                }}
                SERVICES {{
                  imap cmd="{BIN}/imapd {tool}" listen="127.0.0.1:{self.imap_port}" prefork=0
                  http cmd="{BIN}/httpd {tool}" listen="127.0.0.1:{self.port}" prefork=0
                }}
                EVENTS {{
                }}
                DAEMON {{
                }}
                """
            ),
            encoding="utf-8",
        )
        self._saslpasswd(ADMIN, ADMIN_PASSWORD)
        cyrus = pwd.getpwnam("cyrus")
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, cyrus.pw_uid, cyrus.pw_gid)

    def _saslpasswd(self, user: str, password: str) -> None:
        subprocess.run(
            ["saslpasswd2", "-c", "-p", "-f", str(self.root / "sasldb2"), "-u", REALM, user],
            input=password.encode(),
            check=True,
            timeout=10,
        )
        cyrus = pwd.getpwnam("cyrus")
        os.chown(self.root / "sasldb2", cyrus.pw_uid, cyrus.pw_gid)

    def start(self) -> CyrusDaemon:
        cyrus = pwd.getpwnam("cyrus")
        self._process = subprocess.Popen(
            [
                str(BIN / "master"),
                "-C",
                str(self.conf),
                "-M",
                str(self.root / "cyrus.conf"),
                "-p",
                str(self.root / "run" / "pid"),
            ],
            user=cyrus.pw_uid,
            group=cyrus.pw_gid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its children die with it: the whole group is signalled in stop()
        )
        wait_for(
            lambda: self._exited() or (accepts_connections(self.port) and accepts_connections(self.imap_port)),
            _STARTUP_SECONDS,
        )
        if self._exited():
            raise AssertionError(f"Cyrus master exited with status {self._process.returncode}; see the system log")
        return self

    def _exited(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    @property
    def serving(self) -> bool:
        return self._process is not None

    def stop(self) -> None:
        """Stop serving: connecting to `port` is refused until `start()`."""
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._process = None
        wait_for(lambda: not accepts_connections(self.port), 10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, password: str) -> str:
        """A new user with that password and an INBOX (so CalDAV can provision its home); returns the name."""
        name = f"coach{next(self._users)}"
        self._saslpasswd(name, password)
        imap = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        try:
            imap.login(ADMIN, ADMIN_PASSWORD)
            status, detail = imap.create(f"user/{name}")
            if status != "OK":
                raise AssertionError(f"Cyrus did not create the mailbox of {name}: {detail!r}")
        finally:
            imap.logout()
        return name
