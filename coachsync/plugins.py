"""Finding, loading and checking policy plugins, and their validated settings.

A plugin comes from the `coachsync` entry-point group (the built-in policies
register there too) or is a `*.py` file in the config's `plugins_dir`. Every
plugin found is imported and checked at start-up, enabled or not, so a broken
one stops the daemon with its name instead of failing later; only those with
`policies.<name>.enabled: true` stay registered, the others are blocked.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata
import importlib.util
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ConfigDict

from . import hookspecs
from .config import Config, Loc
from .errors import ConfigError, PluginError
from .hookspecs import PolicySettings
from .text import one_line

log = logging.getLogger(__name__)

GROUP = "coachsync"
BUILT_IN_PACKAGE = "coachsync_plugins"


class Source:
    """Where a plugin came from, as `coachsync plugins` shows it."""

    BUILT_IN = "built-in"
    ENTRY_POINT = "entry point"
    LOCAL_FILE = "local file"


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One plugin as `coachsync plugins` lists it; `origin` is the entry point's value or the file."""

    name: str
    source: str
    origin: str
    version: str | None
    enabled: bool
    hooks: tuple[str, ...]


# Calls one plugin's coachsync_on_change with keyword arguments; returns its result, [] for None.
OnChange = Callable[..., list[Any]]


@dataclass(frozen=True, slots=True)
class Plugins:
    """The checked plugin manager, with each enabled plugin's settings, template directory and hook."""

    manager: pluggy.PluginManager
    infos: tuple[PluginInfo, ...]
    settings: Mapping[str, PolicySettings]
    template_dirs: Mapping[str, Path | None]
    # Per enabled plugin that implements it: a hook caller of that plugin alone, so its failure is its own.
    on_change: Mapping[str, OnChange]
    # The coachsync_on_change arguments each of those plugins names.
    arguments: Mapping[str, frozenset[str]]
    # Per enabled plugin that implements coachsync_daily: a caller of that plugin alone, and the arguments it names.
    daily: Mapping[str, OnChange] = field(default_factory=dict)
    daily_arguments: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Per plugin, per client: `clients[i].policies.<name>` merged over `policies.<name>` and validated.
    client_settings: Mapping[str, Mapping[str, PolicySettings]] = field(default_factory=dict)

    def settings_for(self, plugin: str, client: str | None) -> PolicySettings | None:
        """The settings a plugin runs with for a client's change, or None when it is off for them."""
        own = self.client_settings.get(plugin, {}).get(client) if client is not None else None
        found = own if own is not None else self.settings.get(plugin)
        return found if found is not None and found.enabled else None


@dataclass(frozen=True, slots=True)
class _Found:
    """A plugin discovered but not imported yet."""

    name: str
    source: str
    origin: str
    version: str | None
    load: Callable[[], object]


class _Switch(PolicySettings):
    """Reads only `enabled` from a section; a disabled policy's other values are checked once it is on."""

    model_config = ConfigDict(extra="ignore")


def load_plugins(config: Config, trace: bool = False) -> Plugins:
    """Discover, import, register and check every plugin; raise PluginError or ConfigError naming it.

    With `trace`, every hook call is logged with the plugins it reached and how long it took.
    """
    found = _discover(config.plugins_dir)
    _check_policy_keys(config, [f.name for f in found])

    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    if trace:
        _trace_hook_calls(manager)
    hooks: dict[str, tuple[str, ...]] = {}
    modules: dict[str, object] = {}
    for plugin in found:
        module = _import(plugin)
        try:
            manager.register(module, name=plugin.name)
        except (ValueError, pluggy.PluginValidationError) as error:
            raise _plugin_error(plugin, f"cannot be registered: {one_line(str(error))}") from None
        callers = manager.get_hookcallers(module) or []
        for caller in callers:
            if not caller.has_spec():
                raise _plugin_error(plugin, _unknown_hook(caller.name))
            if any(
                impl.plugin_name == plugin.name and (impl.hookwrapper or impl.wrapper)
                for impl in caller.get_hookimpls()
            ):
                raise _plugin_error(
                    plugin, f"wraps {caller.name}, but coachsync hooks cannot be wrapped; drop wrapper=True"
                )
        hooks[plugin.name] = tuple(sorted(caller.name for caller in callers))
        modules[plugin.name] = module
    try:
        manager.check_pending()  # a backstop: the loop above already names each unknown hook
    except pluggy.PluginValidationError as error:
        raise PluginError(f"a plugin implements an unknown hook: {one_line(str(error))}") from None

    by_name = {f.name: f for f in found}
    # In the file's order, so the first error reported is the one nearest the top.
    sections = {name: _section(config, manager, by_name[name]) for name in config.policies}
    settings = {name: section for name, section in sorted(sections.items()) if section is not None}
    client_settings = _client_sections(config, manager, by_name)
    # A plugin switched on for one client only is registered too; it runs for that client's changes.
    enabled = set(settings) | {
        name for name, clients in client_settings.items() if any(s.enabled for s in clients.values())
    }
    for plugin in found:
        if plugin.name not in enabled:
            manager.set_blocked(plugin.name)  # listed, never called
    infos = tuple(
        PluginInfo(f.name, f.source, f.origin, f.version, f.name in enabled, hooks[f.name])
        for f in sorted(found, key=lambda f: f.name)
    )
    reacting = sorted(name for name in enabled if "coachsync_on_change" in hooks[name])
    daily = sorted(name for name in enabled if "coachsync_daily" in hooks[name])
    return Plugins(
        manager=manager,
        infos=infos,
        settings=settings,
        template_dirs={name: _templates_dir(modules[name]) for name in enabled},
        on_change={name: _caller_of(manager, "coachsync_on_change", name) for name in reacting},
        arguments={name: _argnames(manager, "coachsync_on_change", name) for name in reacting},
        client_settings=client_settings,
        daily={name: _caller_of(manager, "coachsync_daily", name) for name in daily},
        daily_arguments={name: _argnames(manager, "coachsync_daily", name) for name in daily},
    )


def _caller_of(manager: pluggy.PluginManager, hook: str, plugin: str) -> OnChange:
    """A caller of `hook` that reaches `plugin` alone; monitoring and validation stay pluggy's."""
    others = [p for name, p in manager.list_name_plugin() if name != plugin and p is not None]
    return manager.subset_hook_caller(hook, remove_plugins=others)


def _implements(manager: pluggy.PluginManager, hook: str, plugin: str) -> bool:
    return any(impl.plugin_name == plugin for impl in getattr(manager.hook, hook).get_hookimpls())


def _argnames(manager: pluggy.PluginManager, hook: str, plugin: str) -> frozenset[str]:
    caller = getattr(manager.hook, hook)
    return frozenset(a for impl in caller.get_hookimpls() if impl.plugin_name == plugin for a in impl.argnames)


def _trace_hook_calls(manager: pluggy.PluginManager) -> None:
    """Log each hook call with its duration (COACHSYNC_TRACE_PLUGINS=1), as datasette does."""
    started: list[float] = []

    def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        started.append(time.perf_counter())

    def after(outcome: Any, hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        took = time.perf_counter() - started.pop()
        log.info(
            "hook called",
            extra={
                "hook": hook_name,
                "plugins": ",".join(impl.plugin_name for impl in impls) or "-",
                "ms": f"{took * 1000:.2f}",
                "failed": "yes" if outcome.exception is not None else "no",
            },
        )

    manager.add_hookcall_monitoring(before, after)


def settings_models(plugins_dir: Path | None = None) -> dict[str, type[PolicySettings]]:
    """Each installed plugin's model of `policies.<name>`, by name, for `coachsync schema`."""
    models = {}
    for plugin in sorted(_discover(plugins_dir), key=lambda f: f.name):
        manager = pluggy.PluginManager(GROUP)  # one per plugin: only its own settings hook answers
        manager.add_hookspecs(hookspecs)
        manager.register(_import(plugin), name=plugin.name)
        models[plugin.name] = _settings_model(manager, plugin)
    return models


def _discover(plugins_dir: Path | None) -> list[_Found]:
    found: dict[str, _Found] = {}
    for entry_point in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        built_in = entry_point.module.partition(".")[0] == BUILT_IN_PACKAGE
        plugin = _Found(
            name=entry_point.name,
            source=Source.BUILT_IN if built_in else Source.ENTRY_POINT,
            origin=entry_point.value,
            version=entry_point.dist.version if entry_point.dist is not None else None,
            load=entry_point.load,
        )
        if plugin.name in found and found[plugin.name].origin != plugin.origin:
            other = found[plugin.name]
            raise PluginError(
                f"two installed plugins are named {plugin.name!r} ({other.origin} and {plugin.origin});"
                " uninstall one of them"
            )
        found[plugin.name] = plugin
    for path in _local_files(plugins_dir):
        name = path.stem
        if name in found:
            raise PluginError(
                f"local plugin {path} has the name of the installed plugin {name!r}"
                f" ({found[name].source} {found[name].origin}); rename the file"
            )
        found[name] = _Found(name, Source.LOCAL_FILE, str(path), None, _file_loader(name, path))
    return list(found.values())


def _local_files(directory: Path | None) -> list[Path]:
    """`*.py` files of the coach's plugins_dir; names starting with `_` are helpers, not plugins."""
    if directory is None:
        return []
    return sorted(p for p in directory.glob("*.py") if p.is_file() and not p.name.startswith(("_", ".")))


def _file_loader(name: str, path: Path) -> Callable[[], object]:
    def load() -> ModuleType:
        # A private module name per file, so a plugin file never shadows or replaces a real module.
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        module_name = f"_coachsync_local_plugin_{digest}_{name.replace('-', '_')}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pydantic look their module up while it runs
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module

    return load


def _import(plugin: _Found) -> object:
    try:
        return plugin.load()
    except Exception as error:  # any failure of third-party code is the plugin's, and named as such
        raise _plugin_error(plugin, f"failed to load: {type(error).__name__}: {one_line(str(error))}") from None


def _plugin_error(plugin: _Found, problem: str) -> PluginError:
    fix = "fix the file or move it out of plugins_dir" if plugin.source == Source.LOCAL_FILE else "fix or uninstall it"
    return PluginError(f"plugin {plugin.name!r} ({plugin.source} {plugin.origin}) {problem}; {fix}")


def _unknown_hook(name: str) -> str:
    known = [n for n in dir(hookspecs) if n.startswith("coachsync_")]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"the hooks are {', '.join(known)}"
    return f"implements {name}, which is not a coachsync hook ({hint})"


def _check_policy_keys(config: Config, names: Iterable[str]) -> None:
    installed = sorted(names)
    for key in config.policies:
        if key not in installed:
            raise _no_such_plugin(config, ("policies", key), key, installed)


def _section(config: Config, manager: pluggy.PluginManager, plugin: _Found) -> PolicySettings | None:
    """An enabled plugin's validated `policies.<name>`; None for a disabled one.

    A disabled plugin's section is checked for `enabled` and for keys the plugin does not
    know (a misspelt `enable:` must not read as "off"); its values may wait until it is on.
    """
    loc, data = ("policies", plugin.name), config.policies[plugin.name]
    switch = config.validate_section(loc, _Switch, data)
    model = _settings_model(manager, plugin)
    if switch.enabled:
        return config.validate_section(loc, model, data)
    config.check_keys(loc, model, data)
    return None


def _client_sections(
    config: Config, manager: pluggy.PluginManager, found: Mapping[str, _Found]
) -> dict[str, dict[str, PolicySettings]]:
    """Each `clients[i].policies.<name>`, merged key by key over `policies.<name>` and validated by the
    plugin's own model; an error names the line of whichever section gave the key."""
    sections: dict[str, dict[str, PolicySettings]] = {}
    for index, client in enumerate(config.clients):
        for name, data in client.policies.items():
            loc: Loc = ("clients", index, "policies", name)
            if name not in found:
                raise _no_such_plugin(config, loc, name, found)
            layers = [(("policies", name), config.policies.get(name) or {}), (loc, data)]
            switch = config.validate_layers(layers, _Switch)
            model = _settings_model(manager, found[name])
            if switch.enabled:
                sections.setdefault(name, {})[client.name] = config.validate_layers(layers, model)
            else:
                config.check_keys(loc, model, data)
                sections.setdefault(name, {})[client.name] = switch
    return sections


def _no_such_plugin(config: Config, loc: Loc, name: str, installed: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(str(name), sorted(installed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; see `coachsync plugins`"
    return config.key_error(loc, f"no plugin named {name!r} is installed{hint}")


def _settings_model(manager: pluggy.PluginManager, plugin: _Found) -> type[PolicySettings]:
    """The model the plugin itself declares for `policies.<name>`."""
    model: Any = PolicySettings
    if _implements(manager, "coachsync_policy_settings", plugin.name):
        try:
            declared = _caller_of(manager, "coachsync_policy_settings", plugin.name)()
        except Exception as error:
            raise _plugin_error(
                plugin, f"coachsync_policy_settings failed: {type(error).__name__}: {one_line(str(error))}"
            ) from None
        model = declared[0] if declared else None  # pluggy leaves out a None result
        if not (isinstance(model, type) and issubclass(model, PolicySettings)):
            raise _plugin_error(
                plugin,
                f"coachsync_policy_settings returned {getattr(model, '__name__', repr(model))}, not a subclass"
                " of coachsync.hookspecs.PolicySettings",
            )
    return model  # type: ignore[no-any-return]  # checked just above


def _templates_dir(plugin: object) -> Path | None:
    """`templates/` beside the plugin's module (the built-ins share plugins/templates/)."""
    module = plugin if isinstance(plugin, ModuleType) else sys.modules.get(getattr(plugin, "__module__", ""))
    file = getattr(module, "__file__", None)
    return Path(file).parent / "templates" if file else None
