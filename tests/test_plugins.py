"""Finding and checking plugins at start-up: what is listed, what stops the daemon, and with which words."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coachsync import __version__
from coachsync.errors import ConfigError, PluginError

from support.cli import cli
from support.ical import session
from support.plugin_world import BOOM, FLAT_FEE, install_plugin, plugin_coach, plugin_file
from support.scenario import NOW, OpenApp, rows

DEC_10 = NOW + timedelta(days=9)
BUILT_INS = ("cadence", "checkin", "end_engagement", "escalation_email", "fee", "noshow_followup")
BOTH_HOOKS = ["coachsync_on_change", "coachsync_policy_settings"]


def built_in(name: str) -> dict[str, object]:
    return {
        "name": name,
        "source": "built-in",
        "origin": f"coachsync_plugins.{name}",
        "version": __version__,
        "enabled": False,
        "hooks": ["coachsync_daily", "coachsync_policy_settings"] if name == "cadence" else BOTH_HOOKS,
    }


@pytest.fixture
def installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A third-party distribution on sys.path that registers plugins in the `coachsync` entry-point group."""
    site = tmp_path / "site"
    info = site / "acme_policies-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-policies\nVersion: 1.2.3\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[coachsync]\nacme = acme_policy\n", encoding="utf-8")
    install_plugin(site, "acme_policy", BOOM)
    monkeypatch.syspath_prepend(str(site))
    yield info
    sys.modules.pop("acme_policy", None)
    sys.modules.pop("acme_missing", None)


def test_plugins_json_lists_built_ins_entry_points_and_local_files(tmp_path: Path, installed_package: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\nacme: {enabled: true}\n")

    result = cli(coach, "plugins", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "name": "acme",
            "source": "entry point",
            "origin": "acme_policy",
            "version": "1.2.3",
            "enabled": True,
            "hooks": ["coachsync_on_change"],
        },
        *[built_in(name) for name in BUILT_INS if name < "flat_fee"],
        {
            "name": "flat_fee",
            "source": "local file",
            "origin": str(tmp_path / "policies" / "flat_fee.py"),
            "version": None,
            "enabled": True,
            "hooks": BOTH_HOOKS,
        },
        built_in("noshow_followup"),
    ]


def test_plugins_table_shows_where_each_came_from(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")

    result = cli(coach, "plugins")

    path = tmp_path / "policies" / "flat_fee.py"
    hooks = "coachsync_on_change, coachsync_policy_settings"
    daily = "coachsync_daily, coachsync_policy_settings    "
    assert (result.exit_code, result.stdout) == (
        0,
        "NAME              SOURCE      VERSION  ENABLED  HOOKS" + " " * (len(hooks) - 5) + "  FROM\n"
        f"cadence           built-in    {__version__}    no       {daily}  coachsync_plugins.cadence\n"
        f"checkin           built-in    {__version__}    no       {hooks}  coachsync_plugins.checkin\n"
        f"end_engagement    built-in    {__version__}    no       {hooks}  coachsync_plugins.end_engagement\n"
        f"escalation_email  built-in    {__version__}    no       {hooks}  coachsync_plugins.escalation_email\n"
        f"fee               built-in    {__version__}    no       {hooks}  coachsync_plugins.fee\n"
        f"flat_fee          local file  -        yes      {hooks}  {path}\n"
        f"noshow_followup   built-in    {__version__}    no       {hooks}  coachsync_plugins.noshow_followup\n",
    )


def test_local_plugin_that_fails_to_import_stops_start_up_naming_it(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"broken": "import coachsync_no_such_module\n"})
    coach.write(session("a1", DEC_10))

    result = cli(coach, "sync")

    path = tmp_path / "policies" / "broken.py"
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"coachsync: plugin 'broken' (local file {path}) failed to load: ModuleNotFoundError: No module named"
        " 'coachsync_no_such_module'; fix the file or move it out of plugins_dir\n"
    )
    assert rows(coach, "SELECT * FROM calendars") == []


def test_local_plugin_with_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"typo": "def coachsync_on_change(:\n"})

    with pytest.raises(PluginError) as raised:
        coach.app()

    path = tmp_path / "policies" / "typo.py"
    assert str(raised.value) == (
        f"plugin 'typo' (local file {path}) failed to load: SyntaxError: invalid syntax (typo.py, line 1);"
        " fix the file or move it out of plugins_dir"
    )
    assert raised.value.exit_code == 2


def test_entry_point_that_fails_to_import_names_the_entry_point(tmp_path: Path, installed_package: Path) -> None:
    (installed_package / "entry_points.txt").write_text("[coachsync]\nacme = acme_missing\n", encoding="utf-8")
    coach = plugin_coach(tmp_path, {})

    result = cli(coach, "plugins")

    assert (result.exit_code, result.stderr) == (
        2,
        "coachsync: plugin 'acme' (entry point acme_missing) failed to load: ModuleNotFoundError: No module named"
        " 'acme_missing'; fix or uninstall it\n",
    )


def test_a_hook_that_does_not_exist_stops_start_up(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"misspelt": plugin_file("misspelt_hook")})

    result = cli(coach, "sync")

    path = tmp_path / "policies" / "misspelt.py"
    assert (result.exit_code, result.stderr) == (
        2,
        f"coachsync: plugin 'misspelt' (local file {path}) implements coachsync_on_chnage, which is not a"
        " coachsync hook (did you mean coachsync_on_change?); fix the file or move it out of plugins_dir\n",
    )


def test_a_hook_argument_the_spec_does_not_offer_stops_start_up(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"odd": plugin_file("unknown_argument")})

    with pytest.raises(PluginError) as raised:
        coach.app()

    message = str(raised.value)
    path = tmp_path / "policies" / "odd.py"
    assert message.startswith(f"plugin 'odd' (local file {path}) cannot be registered: Plugin 'odd' for hook ")
    assert "Argument(s) {'histroy'} are declared in the hookimpl but can not be found in the hookspec" in message
    assert "\n" not in message


def test_a_local_file_cannot_take_the_name_of_an_installed_plugin(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"fee": FLAT_FEE})

    with pytest.raises(PluginError) as raised:
        coach.app()

    assert str(raised.value) == (
        f"local plugin {tmp_path / 'policies' / 'fee.py'} has the name of the installed plugin 'fee'"
        " (built-in coachsync_plugins.fee); rename the file"
    )


def test_helper_modules_in_plugins_dir_are_not_plugins(tmp_path: Path, open_app: OpenApp) -> None:
    coach = plugin_coach(tmp_path, {"_shared": plugin_file("not_a_plugin"), "flat_fee": FLAT_FEE})

    app = open_app(coach)
    assert [info.name for info in app.plugins.infos] == sorted([*BUILT_INS, "flat_fee"])


def test_disabled_plugin_is_blocked_listed_and_never_called(tmp_path: Path, open_app: OpenApp) -> None:
    spy = plugin_file("spy")  # would end the pass if it were ever called
    coach = plugin_coach(
        tmp_path, {"spy": spy, "quiet": spy, "flat_fee": FLAT_FEE}, "spy: {enabled: false}\nflat_fee: {enabled: true}\n"
    )
    coach.write(session("a1", DEC_10))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + timedelta(hours=2)))

    app.sync_calendar("coaching", NOW)

    manager = app.plugins.manager
    assert (manager.is_blocked("spy"), manager.is_blocked("quiet"), manager.is_blocked("flat_fee")) == (
        True,
        True,
        False,
    )
    assert manager.get_plugin("spy") is None
    assert {i.name: (i.enabled, i.hooks) for i in app.plugins.infos if i.name in ("spy", "quiet")} == {
        "spy": (False, ("coachsync_on_change",)),
        "quiet": (False, ("coachsync_on_change",)),
    }
    assert [r.change.kind.value for r in app.store.history.records()] == ["moved"]
    assert [(f.plugin, f.change_id) for f in app.store.ledger.fees()] == [("flat_fee", 1)]
    assert app.store.ledger.failures() == []


def test_settings_error_names_file_line_and_key(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, 'flat_fee:\n  enabled: true\n  amount: "40"\n')

    result = cli(coach, "sync")

    line = coach.config_path.read_text(encoding="utf-8").splitlines().index('    amount: "40"') + 1
    assert (result.exit_code, result.stderr) == (
        2,
        f"{coach.config_path}:{line}: policies.flat_fee.amount: expected a whole number, got '40'\n",
    )


def test_misspelt_setting_gets_a_did_you_mean(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee:\n  enabled: true\n  amout: 40\n")

    with pytest.raises(ConfigError) as raised:
        coach.app()

    line = coach.config_path.read_text(encoding="utf-8").splitlines().index("    amout: 40") + 1
    assert (
        str(raised.value)
        == f"{coach.config_path}:{line}: policies.flat_fee.amout: unknown key 'amout'; did you mean 'amount'?"
    )


def test_enabled_must_be_true_or_false_even_for_a_disabled_policy(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: yes, amount: 40}\n")

    with pytest.raises(ConfigError) as raised:
        coach.app()

    line = (
        coach.config_path.read_text(encoding="utf-8").splitlines().index("  flat_fee: {enabled: yes, amount: 40}") + 1
    )
    assert (
        str(raised.value) == f"{coach.config_path}:{line}: policies.flat_fee.enabled: expected true or false, got 'yes'"
    )


def test_policy_naming_no_installed_plugin_gets_a_did_you_mean(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fe: {enabled: true}\n")

    result = cli(coach, "sync")

    line = coach.config_path.read_text(encoding="utf-8").splitlines().index("  flat_fe: {enabled: true}") + 1
    assert (result.exit_code, result.stderr) == (
        2,
        f"{coach.config_path}:{line}: policies.flat_fe: no plugin named 'flat_fe' is installed;"
        " did you mean 'flat_fee'?\n",
    )


def test_settings_hook_must_return_a_policy_settings_model(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"loose": plugin_file("loose_settings")}, "loose: {enabled: true}\n")

    with pytest.raises(PluginError) as raised:
        coach.app()

    assert str(raised.value) == (
        f"plugin 'loose' (local file {tmp_path / 'policies' / 'loose.py'}) coachsync_policy_settings returned"
        " Loose, not a subclass of coachsync.hookspecs.PolicySettings; fix the file or move it out of plugins_dir"
    )
