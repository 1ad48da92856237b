"""A policy's section is checked for unknown keys whether the policy is on or off; its values once it is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import cli
from support.scenario import Coach


def line_of(coach: Coach, text: str) -> int:
    return coach.config_path.read_text(encoding="utf-8").splitlines().index(text) + 1


@pytest.mark.parametrize("typo", ["enable", "Enabled", "enabed"])
def test_a_misspelt_enabled_key_is_an_error_not_a_disabled_policy(tmp_path: Path, typo: str) -> None:
    coach = Coach(tmp_path, extra_yaml=f"policies:\n  fee: {{{typo}: true, amount: 40, currency: EUR}}\n")

    result = cli(coach, "check")

    line = line_of(coach, f"  fee: {{{typo}: true, amount: 40, currency: EUR}}")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"{coach.config_path}:{line}: policies.fee.{typo}: unknown key {typo!r}; did you mean 'enabled'?\n",
    )


def test_a_misspelt_setting_of_a_disabled_policy_is_an_error(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml="policies:\n  fee:\n    enabled: false\n    amout: 40\n")

    result = cli(coach, "plugins")

    assert (result.exit_code, result.stderr) == (
        2,
        f"{coach.config_path}:{line_of(coach, '    amout: 40')}: policies.fee.amout: unknown key 'amout';"
        " did you mean 'amount'?\n",
    )


def test_a_disabled_policy_may_still_have_half_written_values(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml='policies:\n  fee: {enabled: false, amount: "40"}\n  checkin: {}\n')

    result = cli(coach, "plugins", "--json")

    assert (result.exit_code, result.stderr) == (0, "")


def test_turning_a_half_written_policy_on_checks_its_values(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml='policies:\n  fee: {enabled: true, amount: "40", currency: EUR}\n')

    result = cli(coach, "plugins")

    line = line_of(coach, '  fee: {enabled: true, amount: "40", currency: EUR}')
    assert (result.exit_code, result.stderr) == (
        2,
        f"{coach.config_path}:{line}: policies.fee.amount: expected an amount such as 40 or 12.50, got '40'\n",
    )
