"""`coachsync install-service` and the unit files: the right ExecStart, accepted by systemd, hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from coachsync.service import (
    Sandbox,
    ServiceError,
    system_service_warnings,
    template,
    write_unit,
)

from support.cli import cli
from support.scenario import Coach

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed: the unit files were NOT checked by systemd"
)
COACHSYNC = Path(os.path.abspath(sys.executable)).parent / "coachsync"  # the venv's script running these tests
MAX_EXPOSURE = 2.0


def install(coach: Coach, *args: str, env: dict[str, str] | None = None) -> Result:
    return cli(coach, "install-service", *args, env=env)


def exec_start(unit: Path) -> str:
    [line] = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return line


def test_user_unit_goes_to_the_user_unit_directory_with_this_install_s_exec_start(coach: Coach, tmp_path: Path) -> None:
    result = install(coach, "--user", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})

    unit = tmp_path / "xdg" / "systemd" / "user" / "coachsync.service"
    assert (result.exit_code, result.output) == (
        0,
        f"wrote {unit}\n"
        "enable and start it with:\n"
        "  systemctl --user daemon-reload\n"
        "  systemctl --user enable --now coachsync.service\n"
        "  loginctl enable-linger   # keep it running while you are logged out\n",
    )
    assert COACHSYNC.is_file()
    assert exec_start(unit) == f"ExecStart={COACHSYNC} --config {coach.config_path} run"
    expected = [line for line in template(user=True).splitlines() if not line.startswith("ExecStart=")]
    assert [line for line in unit.read_text().splitlines() if not line.startswith("ExecStart=")] == expected
    assert oct(unit.stat().st_mode & 0o777) == "0o644"


def test_system_unit_written_elsewhere_is_enabled_by_its_path(coach: Coach, tmp_path: Path) -> None:
    result = install(coach, "--output", str(tmp_path / "units"))

    unit = tmp_path / "units" / "coachsync.service"
    assert (result.exit_code, result.stdout) == (
        0,
        f"wrote {unit}\nenable and start it with:\n  systemctl daemon-reload\n  systemctl enable --now {unit}\n",
    )
    # The test coach lives in /tmp, which the hardened unit replaces with a /tmp of its own.
    private = "PrivateTmp=yes gives the service a /tmp of its own"
    # So may this checkout's own venv, wherever CI cloned it.
    hidden = {"/tmp": private, "/var/tmp": private, "/home": "ProtectHome=yes", "/root": "ProtectHome=yes"}
    where = next((why for top, why in hidden.items() if COACHSYNC.is_relative_to(top)), None)
    program = (
        f"warning: the system service cannot see coachsync at {COACHSYNC} ({where}); install coachsync outside home"
        " and temporary directories (e.g. /opt/coachsync) with the config in /etc/coachsync, or use --user\n"
        if where
        else ""
    )
    assert result.stderr == program + (
        f"warning: the system service cannot see the config at {coach.config_path} ({private}); install coachsync"
        " outside home and temporary directories (e.g. /opt/coachsync) with the config in /etc/coachsync, or use"
        " --user\n"
        f"warning: the system service cannot write database: {coach.database.parent} ({private}); leave database:"
        " unset (it then lives in /var/lib/coachsync) or point it there, or use --user\n"
    )
    assert exec_start(unit) == f"ExecStart={COACHSYNC} --config {coach.config_path} run"
    assert "DynamicUser=yes" in unit.read_text().splitlines()


def test_a_path_systemd_would_misread_is_refused(tmp_path: Path) -> None:
    (tmp_path / "my 50% calendars").mkdir()
    coach = Coach(tmp_path / "my 50% calendars")

    result = install(coach, "--user", "--output", str(tmp_path / "coachsync.service"))

    assert (result.exit_code, result.output) == (
        2,
        f"coachsync: cannot put '{coach.config_path}' in a unit file: systemd would misread ' ' '%'; "
        "move it to a path without those characters\n",
    )
    assert not (tmp_path / "coachsync.service").exists()


def test_a_unit_that_cannot_be_written_is_one_line(coach: Coach, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    result = install(coach, "--user", "--output", str(tmp_path / "a-file" / "coachsync.service"))

    assert (result.exit_code, result.output) == (
        1,
        f"coachsync: cannot write {tmp_path / 'a-file' / 'coachsync.service'}: File exists\n",
    )


def test_without_permission_for_the_system_directory_it_says_to_use_sudo() -> None:
    # sysfs refuses new files even to root, so this holds for every user the suite runs as.
    with pytest.raises(ServiceError) as info:
        write_unit(Path("/sys/coachsync.service"), "[Unit]\n", default_location=True)

    assert str(info.value) == (
        "cannot write /sys/coachsync.service: Permission denied; run with sudo or pass --output PATH"
    )


def warnings_for(program: str, config: str, **written: str) -> list[str]:
    return system_service_warnings(
        template(user=False),
        program=Path(program),
        config=Path(config),
        written=[(f"{key}:", Path(path)) for key, path in written.items()],
    )


def test_a_system_install_in_opt_and_etc_with_data_in_var_lib_draws_no_warning() -> None:
    assert (
        warnings_for("/opt/coachsync/bin/coachsync", "/etc/coachsync/config.yaml", database="/var/lib/coachsync") == []
    )


def test_the_system_unit_says_what_its_own_settings_would_stop() -> None:
    found = warnings_for("/home/coach/.venv/bin/coachsync", "/tmp/config.yaml", database="/srv/coaching")

    assert found == [
        "warning: the system service cannot see coachsync at /home/coach/.venv/bin/coachsync (ProtectHome=yes);"
        " install coachsync outside home and temporary directories (e.g. /opt/coachsync) with the config in"
        " /etc/coachsync, or use --user",
        "warning: the system service cannot see the config at /tmp/config.yaml (PrivateTmp=yes gives the service a"
        " /tmp of its own); install coachsync outside home and temporary directories (e.g. /opt/coachsync) with the"
        " config in /etc/coachsync, or use --user",
        "warning: the system service cannot write database: /srv/coaching (ProtectSystem=strict lets it write only"
        " in /var/lib/coachsync); leave database: unset (it then lives in /var/lib/coachsync) or point it there,"
        " or use --user",
    ]


def test_the_warnings_follow_the_unit_s_settings_not_a_fixed_list() -> None:
    relaxed = Sandbox.of("[Service]\nProtectSystem=full\nReadWritePaths=-/srv/coaching\nProtectHome=read-only\n")

    assert relaxed.cannot_see(Path("/home/coach/c.yaml")) is None
    assert relaxed.cannot_write(Path("/srv/coaching")) is None
    assert relaxed.cannot_write(Path("/etc/coachsync")) == "ProtectSystem=full lets it write only in /srv/coaching"
    assert relaxed.cannot_write(Path("/tmp/coaching")) is None


def test_the_system_unit_cannot_see_home_directories_and_says_so() -> None:
    paths = [Path("/home/coach/.venv/bin/coachsync"), Path("/etc/coachsync/config.yaml"), Path("/root/c.yaml")]

    sandbox = Sandbox.of(template(user=False))

    assert [path for path in paths if sandbox.cannot_see(path) is not None] == [paths[0], paths[2]]


def render_both(coach: Coach, tmp_path: Path) -> tuple[Path, Path]:
    user = install(coach, "--user", "--output", str(tmp_path / "user"))
    system = install(coach, "--output", str(tmp_path / "system"))
    assert (user.exit_code, system.exit_code) == (0, 0)
    return tmp_path / "user" / "coachsync.service", tmp_path / "system" / "coachsync.service"


@needs_systemd_analyze
def test_systemd_accepts_both_units(coach: Coach, tmp_path: Path) -> None:
    user_unit, system_unit = render_both(coach, tmp_path)
    runtime = tmp_path / "runtime"  # a user manager needs a runtime directory to start up in
    runtime.mkdir(mode=0o700)

    system = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", system_unit.name],
        cwd=system_unit.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    user = subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", user_unit.name],
        cwd=user_unit.parent,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (system.returncode, system.stdout, system.stderr) == (0, "", "")
    assert (user.returncode, user.stdout, user.stderr) == (0, "", "")


@needs_systemd_analyze
def test_systemd_rejects_a_unit_whose_program_is_missing(coach: Coach, tmp_path: Path) -> None:
    _, system_unit = render_both(coach, tmp_path)
    system_unit.write_text(
        system_unit.read_text().replace(f"ExecStart={COACHSYNC}", "ExecStart=/nonexistent/coachsync")
    )

    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", system_unit.name], cwd=system_unit.parent, capture_output=True, text=True
    )

    assert done.returncode != 0
    assert "Command /nonexistent/coachsync is not executable" in done.stderr


@needs_systemd_analyze
def test_the_system_unit_s_exposure_is_at_most_2(coach: Coach, tmp_path: Path) -> None:
    _, system_unit = render_both(coach, tmp_path)

    done = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(system_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    found = re.search(r"Overall exposure level for coachsync\.service: (\d+\.\d+) ", done.stdout)
    assert found is not None, done.stdout + done.stderr
    exposure = float(found.group(1))
    print(f"systemd-analyze security exposure of the system unit: {exposure}")
    assert exposure <= MAX_EXPOSURE


def test_the_system_unit_carries_the_hardening_the_exposure_relies_on() -> None:
    settings = dict(line.split("=", 1) for line in template(user=False).splitlines() if re.match(r"^[A-Z]\w+=", line))

    assert {key: settings.get(key) for key in HARDENING} == HARDENING
    assert [line for line in template(user=False).splitlines() if line.startswith("LoadCredential=")] == [
        "LoadCredential=smtp-password",
        "LoadCredential=caldav-password",
    ]


HARDENING = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "120",
    "Restart": "on-failure",
    "ExecReload": "kill -HUP $MAINPID",
    "DynamicUser": "yes",
    "StateDirectory": "coachsync",
    "ConfigurationDirectory": "coachsync",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateUsers": "yes",
    "NoNewPrivileges": "yes",
    "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "RemoveIPC": "yes",
    "ProcSubset": "pid",
    "ProtectProc": "invisible",
    "UMask": "0077",
}
