"""The emulator's lists are answered in SQL (paged, filtered, lagging), and a state directory
written before those columns existed is upgraded in place, with nothing lost."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from wanbuild.emulator.app import listed_by
from wanbuild.emulator.store import Store
from wanbuild.emulator.timeline import DELETE_S

REGION = "cn-beijing"


def docs() -> list[tuple[str, str, dict[str, object]]]:
    out: list[tuple[str, str, dict[str, object]]] = []
    for i in range(25):
        api = "native" if i % 5 else "compatible"
        out.append(("file", f"f{i:02d}", {"file_id": f"f{i:02d}", "api": api, "created": i}))
    out.append(("job", "j-live", {"job_id": "j-live", "model": "m", "created": 1.0}))
    out.append(("job", "j-gone", {"job_id": "j-gone", "model": "m", "created": 2.0, "deleted": 1}))
    out.append(("job", "j-other", {"job_id": "j-other", "model": "n", "created": 3.0}))
    dying = {"deployed_model": "d-dying", "created": 1.0, "delete_at": 50.0}
    out.append(("deployment", "d-dying", dying))
    return out


def old_state(state_dir: Path) -> None:
    """The schema of the first release: documents only."""
    state_dir.mkdir(parents=True)
    conn = sqlite3.connect(state_dir / "state.sqlite")
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE objects (kind TEXT, id TEXT, region TEXT, seq INTEGER, doc TEXT,"
        " PRIMARY KEY (kind, id));"
    )
    for seq, (kind, oid, doc) in enumerate(docs(), 1):
        conn.execute(
            "INSERT INTO objects VALUES (?, ?, ?, ?, ?)", (kind, oid, REGION, seq, json.dumps(doc))
        )
    conn.commit()
    conn.close()


def check(store: Store) -> None:
    total, page = store.listing("file", REGION, now=100.0, tag="native", offset=0, limit=10)
    assert total == 20
    assert [d["file_id"] for d in page][:3] == ["f24", "f23", "f22"]  # newest first
    total, page = store.listing("file", REGION, now=100.0, tag="native", offset=10, limit=10)
    assert total == 20
    assert len(page) == 10
    assert page[-1]["file_id"] == "f01"
    # list lag: created at 24 with 80 s of lag shows from 104 on
    total, _ = store.listing("file", REGION, now=100.0, lag=80.0, tag="native")
    assert total == 16
    # a deleted job is gone from lists; the model filter is the tag
    total, page = store.listing("job", REGION, now=100.0, tag="m")
    assert [d["job_id"] for d in page] == ["j-live"]
    # a deployment being deleted is listed until its deletion completes
    assert store.listing("deployment", REGION, now=50.0 + DELETE_S - 1)[0] == 1
    assert store.listing("deployment", REGION, now=50.0 + DELETE_S)[0] == 0
    assert store.get("job", "j-gone", REGION) is not None  # GET by id still sees it


def test_lists_are_paged_filtered_and_lagged_in_sql(tmp_path: Path) -> None:
    store = Store(tmp_path / "state", listed_by)
    for kind, oid, doc in docs():
        store.put(kind, oid, REGION, doc)
    check(store)


def test_a_state_directory_from_before_is_upgraded_in_place(tmp_path: Path) -> None:
    old_state(tmp_path / "state")
    check(Store(tmp_path / "state", listed_by))
    check(Store(tmp_path / "state", listed_by))  # and opening it again changes nothing


def open_at_once(state_dir: Path, n: int = 8) -> list[BaseException]:
    """Open one state from `n` threads, each with its own connection, released together (what
    two wanbuild processes starting side by side do)."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            Store(state_dir, listed_by).close()
        except BaseException as e:  # noqa: BLE001 - collected and asserted on below
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_many_openers_of_a_new_state_at_once_all_succeed(tmp_path: Path) -> None:
    for attempt in range(5):
        state = tmp_path / f"state{attempt}"
        assert open_at_once(state) == []
        store = Store(state, listed_by)
        for kind, oid, doc in docs():
            store.put(kind, oid, REGION, doc)
        check(store)


def test_many_openers_of_an_old_state_at_once_upgrade_it_once(tmp_path: Path) -> None:
    for attempt in range(5):
        state = tmp_path / f"state{attempt}"
        old_state(state)
        assert open_at_once(state) == []
        check(Store(state, listed_by))
