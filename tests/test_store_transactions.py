"""The store's one public transaction: all or nothing, a nested block a savepoint; old import paths warn."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coachsync.model import Change, ChangeKind
from coachsync.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def change(uid: str) -> Change:
    return Change(ChangeKind.CANCELLED, "coaching", uid, "", "Alice Example", "Coaching", NOW, None, 30.0, NOW)


def uids(store: Store) -> list[str]:
    return [r.change.uid for r in store.history.records()]


def test_a_failure_inside_a_transaction_keeps_nothing_of_it(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.history.add([change("a")], NOW)
            store.snapshots.save_sync_state("coaching", {"token": "1"})
            raise RuntimeError("power cut")

        assert uids(store) == []
        assert store.in_transaction is False


def test_a_nested_block_that_fails_undoes_only_its_own_writes(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        with store.transaction():
            store.history.add([change("kept")], NOW)
            with pytest.raises(ValueError), store.transaction():
                store.history.add([change("undone")], NOW)
                raise ValueError("inner")
            store.history.add([change("after")], NOW)

        assert uids(store) == ["kept", "after"]


def test_an_outer_failure_undoes_the_nested_blocks_that_succeeded(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(RuntimeError), store.transaction():
            with store.transaction():
                store.history.add([change("inner")], NOW)
            raise RuntimeError("outer")

        assert uids(store) == []


def test_writes_are_seen_by_another_connection_only_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with Store(path) as writer, Store(path) as reader:
        with writer.transaction():
            writer.history.add([change("a")], NOW)
            assert uids(reader) == []
        assert uids(reader) == ["a"]


@pytest.mark.parametrize(
    ("module", "name"),
    [("coachsync.store", "Record"), ("coachsync.store", "FeeEntry"), ("coachsync.hookspecs", "ClientInfo")],
)
def test_values_that_moved_still_import_from_their_old_place_with_a_deprecation_warning(module: str, name: str) -> None:
    imported = importlib.import_module(module)
    api = importlib.import_module("coachsync.model")

    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} moved"):
        value = getattr(imported, name)

    assert value is getattr(api, name)
