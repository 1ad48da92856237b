"""DAViCal (Debian: davical, apache2, libapache2-mod-php, postgresql) on 127.0.0.1 for tests.

A PostgreSQL cluster of its own, reached only through a Unix socket in a fresh
directory (no TCP port), holds DAViCal's database, built by DAViCal's own
`create-database.sh`. Apache with mod_php serves DAViCal on a port chosen at
run time, from a configuration in that directory. DAViCal reads its settings
from `/etc/davical/<ServerName>-conf.php`; the one file written there
(`coachsync-tests-conf.php`) takes the database from the Apache environment,
so every instance has its own. PostgreSQL refuses to run as root and Apache
drops to www-data, which is why these tests must run as root. Each test gets a
user of its own, inserted the way DAViCal's admin pages do.

DAViCal's CalDAV root is /caldav.php/ (the rest of the site is its web admin).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
from pathlib import Path

from support.cyrus import accepts_connections
from support.ports import free_port
from support.wait import wait_for

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DBA = Path("/usr/share/davical/dba")
HTDOCS = Path("/usr/share/davical/htdocs")
PHP_MODULE = Path("/usr/lib/apache2/modules/libphp8.2.so")
SERVER_NAME = "coachsync-tests"
SITE_CONFIG = Path("/etc/davical") / f"{SERVER_NAME}-conf.php"
ROOT_PATH = "/caldav.php/"
_STARTUP_SECONDS = 30.0

_SITE_PHP = """<?php
// The coachsync test suite's DAViCal instances: each names its PostgreSQL in its Apache environment.
$c->pg_connect[] = $_SERVER['COACHSYNC_DAVICAL_PG'];
$c->system_name = 'coachsync tests';
$c->admin_email = 'admin@example.com';
$c->default_collections = array();  // a test creates the calendars it means to have
"""


def missing() -> str | None:
    """Why DAViCal cannot run here, or None."""
    for needed in (PG_BIN / "postgres", DBA / "create-database.sh", HTDOCS / "caldav.php", PHP_MODULE):
        if not needed.exists():
            return (
                f"DAViCal is not installed ({needed} is missing; apt-get install davical apache2 "
                "libapache2-mod-php postgresql; `make test-servers` does)"
            )
    if os.geteuid() != 0:
        return "PostgreSQL and Apache are started as their own users, which only root can do"
    return None


class DavicalDaemon:
    """PostgreSQL and Apache serving DAViCal on `port`; `stop()` and `start()` stop Apache only (the web server)."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: postgres and www-data must be able to reach the socket and data.
        self.root = Path(tempfile.mkdtemp(prefix="coachsync-davical-"))
        self.root.chmod(0o755)
        self.socket_dir = self.root / "socket"
        self.port = free_port()
        self._users = itertools.count(1)
        self._postgres: subprocess.Popen[bytes] | None = None
        self._apache: subprocess.Popen[bytes] | None = None
        self._database()
        self._configure_apache()

    # --- PostgreSQL ------------------------------------------------------------------------------

    def _database(self) -> None:
        postgres = pwd.getpwnam("postgres")
        data = self.root / "data"
        for folder in (data, self.socket_dir):
            folder.mkdir()
            os.chown(folder, postgres.pw_uid, postgres.pw_gid)
        data.chmod(0o700)
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.start_database()
        created = subprocess.run(
            [str(DBA / "create-database.sh"), "davical", "admin secret"],
            env={**os.environ, "PGHOST": str(self.socket_dir), "PGUSER": "postgres"},
            capture_output=True,
            timeout=120,
        )
        if created.returncode != 0:
            raise AssertionError(f"create-database.sh failed: {created.stdout[-800:]!r} {created.stderr[-800:]!r}")

    def start_database(self) -> None:
        postgres = pwd.getpwnam("postgres")
        data = self.root / "data"
        with open(self.root / "postgres.log", "ab") as log:  # the child keeps its own copy open
            process = subprocess.Popen(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(data),
                    "-k",
                    str(self.socket_dir),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                ],
                user=postgres.pw_uid,
                group=postgres.pw_gid,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self._postgres = process
        wait_for(lambda: process.poll() is not None or (self.socket_dir / ".s.PGSQL.5432").exists(), _STARTUP_SECONDS)
        if process.poll() is not None:
            raise AssertionError(f"PostgreSQL exited: {(self.root / 'postgres.log').read_text()[-500:]}")

    def _as_postgres(self, command: list[str]) -> None:
        postgres = pwd.getpwnam("postgres")
        done = subprocess.run(
            command, user=postgres.pw_uid, group=postgres.pw_gid, extra_groups=[], capture_output=True, timeout=60
        )
        if done.returncode != 0:
            raise AssertionError(f"{command[0]} failed: {done.stderr[-800:]!r}")

    def sql(self, statement: str) -> str:
        """Run one statement in DAViCal's database as its owner; returns what it printed."""
        done = subprocess.run(
            [
                "psql",
                "-qXAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                "-d",
                "davical",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            raise AssertionError(f"psql failed: {done.stderr[-800:]}")
        return done.stdout.strip()

    # --- Apache ----------------------------------------------------------------------------------

    def _configure_apache(self) -> None:
        SITE_CONFIG.parent.mkdir(parents=True, exist_ok=True)
        SITE_CONFIG.write_text(_SITE_PHP, encoding="utf-8")
        modules = "\n".join(
            f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so"
            for name in ("mpm_prefork", "authz_core", "mime", "env", "dir", "alias")
        )
        (self.root / "apache.conf").write_text(
            textwrap.dedent(
                f"""\
                ServerRoot /etc/apache2
                DefaultRuntimeDir {self.root}
                PidFile {self.root}/apache.pid
                Listen 127.0.0.1:{self.port}
                ServerName {SERVER_NAME}
                UseCanonicalName On
                User www-data
                Group www-data
                ErrorLog {self.root}/apache-error.log
                LogLevel warn
                {{modules}}
                LoadModule php_module {PHP_MODULE}
                TypesConfig /etc/mime.types
                StartServers 2
                MinSpareServers 1
                MaxSpareServers 4
                MaxRequestWorkers 8
                DocumentRoot {HTDOCS}
                DirectoryIndex index.php
                <Directory {HTDOCS}>
                  Require all granted
                  AllowOverride None
                </Directory>
                <FilesMatch "\\.php$">
                  SetHandler application/x-httpd-php
                </FilesMatch>
                SetEnv COACHSYNC_DAVICAL_PG "dbname=davical user=davical_app host={self.socket_dir}"
                php_value include_path ".:/usr/share/awl/inc"
                php_flag display_errors off
                """
            ).replace("{modules}", modules),
            encoding="utf-8",
        )

    def start(self) -> DavicalDaemon:
        self._apache = subprocess.Popen(
            ["/usr/sbin/apache2", "-f", str(self.root / "apache.conf"), "-DFOREGROUND"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: self._apache.poll() is not None or accepts_connections(self.port), _STARTUP_SECONDS)
        if self._apache.poll() is not None:
            raise AssertionError(f"Apache exited: {(self.root / 'apache-error.log').read_text()[-800:]}")
        return self

    @property
    def serving(self) -> bool:
        return self._apache is not None

    def stop(self) -> None:
        """Stop Apache: connecting to `port` is refused until `start()`."""
        if self._apache is None:
            return
        _end(self._apache, signal.SIGTERM)
        self._apache = None
        wait_for(lambda: not accepts_connections(self.port), 10)

    def stop_database(self) -> None:
        """Stop PostgreSQL only, as when DAViCal's database is down behind a running Apache."""
        if self._postgres is not None:
            _end(self._postgres, signal.SIGINT)  # PostgreSQL's fast shutdown
            self._postgres = None
            wait_for(lambda: not (self.socket_dir / ".s.PGSQL.5432").exists(), 10)

    def close(self) -> None:
        self.stop()
        self.stop_database()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- accounts ----------------------------------------------------------------------------------

    def add_user(self, password: str) -> str:
        """A new DAViCal user and principal with that password and no collections; returns the name."""
        name = f"coach{next(self._users)}"
        quoted = password.replace("'", "''")
        self.sql(
            "WITH u AS (INSERT INTO usr (active, email_ok, updated, username, password, fullname, email) "
            f"VALUES (TRUE, current_date, current_date, '{name}', '**{quoted}', 'Coach {name}', '{name}@example.com') "
            "RETURNING user_no) INSERT INTO principal (type_id, user_no, displayname, default_privileges) "
            f"SELECT 1, user_no, 'Coach {name}', 0::BIT(24) FROM u"
        )
        return name

    def forget_sync_tokens(self, collection: str) -> None:
        """What DAViCal does to tokens older than about a week once newer ones exist, done now."""
        dav_name = collection.removeprefix(ROOT_PATH.rstrip("/"))
        where = f"collection_id = (SELECT collection_id FROM collection WHERE dav_name = '{dav_name}')"
        self.sql(f"DELETE FROM sync_changes WHERE {where}; DELETE FROM sync_tokens WHERE {where}")


def _end(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, how)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
