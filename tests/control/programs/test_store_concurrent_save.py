"""Two saves of the same document at once, in two threads on one SQLite state database.

The interleaving is the test's: save A stops right after it read the latest
version, and is let go once save B is about to write. Each save reads the
versions only once it holds the write lock, so B finds what A stored: one
new version, which exactly one save says it created (neither fails).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from openbms.control.programs import Program, ProgramStore, SavedVersion
from openbms.db import migrate, open_state


def holding(value: float) -> Program:
    return Program.model_validate({
        "id": "ahu", "site": "hq", "name": f"holds {value}",
        "constants": [{"id": "k", "value": value}], "outputs": [{"id": "o", "point": "hq/plant/out1"}],
        "wires": [{"from": "k", "to": "o"}]})


def test_two_identical_saves_at_once_make_one_version_and_one_says_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    store = ProgramStore(engine)
    assert store.save(holding(20)) == 1
    a_read, b_writes, go = threading.Event(), threading.Event(), threading.Event()

    def interleave(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        name = threading.current_thread().name
        if name == "save-a" and statement.startswith("SELECT program_versions.version"):
            a_read.set()
            assert go.wait(30)
        elif name == "save-b" and statement.startswith("UPDATE programs"):
            b_writes.set()

    sa.event.listen(engine, "before_cursor_execute", interleave)
    results: dict[str, SavedVersion | BaseException] = {}

    def save(name: str) -> None:
        try:
            results[name] = store.save(holding(21))
        except BaseException as err:  # reported by the assertion below
            results[name] = err

    a = threading.Thread(target=save, args=("a",), name="save-a")
    b = threading.Thread(target=save, args=("b",), name="save-b")
    a.start()
    assert a_read.wait(30)
    b.start()
    assert b_writes.wait(30)
    go.set()
    a.join(60)
    b.join(60)
    sa.event.remove(engine, "before_cursor_execute", interleave)
    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    saved = sorted((int(r), r.created) for r in results.values() if isinstance(r, SavedVersion))
    assert saved == [(2, False), (2, True)]
    assert [v.version for v in store.versions("ahu", site="hq")] == [1, 2]
    engine.dispose()
