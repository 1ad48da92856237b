"""A coach with policy plugins of their own: plugin files in a plugins_dir, policies in the config.

Working plugins are real files in tests/plugins/, linted like the rest, and
copied into the coach's plugins_dir. Only a plugin that must be broken Python
(a syntax error, a failing import) is written from its source text.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path

from support.scenario import Coach

TEST_PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def plugin_file(name: str) -> Path:
    """tests/plugins/<name>.py, which must exist."""
    path = TEST_PLUGINS / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no test plugin {path}")
    return path


FLAT_FEE = plugin_file("flat_fee")
BOOM = plugin_file("boom")
BOOM_FIXED = plugin_file("boom_fixed")


def install_plugin(directory: Path, name: str, plugin: Path | str) -> Path:
    """Put `plugin` into `directory` as `<name>.py`: a copy of a file, or a broken plugin's source text."""
    target = directory / f"{name}.py"
    if isinstance(plugin, Path):
        shutil.copy(plugin, target)
    else:
        target.write_text(plugin, encoding="utf-8")
    return target


def plugin_coach(root: Path, plugins: Mapping[str, Path | str], policies: str = "", more_yaml: str = "") -> Coach:
    """A coach whose config names `root/policies` as plugins_dir, holding `plugins` (name -> file or source)."""
    directory = root / "policies"
    directory.mkdir(exist_ok=True)
    for name, plugin in plugins.items():
        install_plugin(directory, name, plugin)
    extra = "plugins_dir: policies\n"
    if policies:
        extra += "policies:\n" + textwrap.indent(textwrap.dedent(policies), "  ")
    return Coach(root, extra_yaml=extra + textwrap.dedent(more_yaml))
