"""Listings of many pages, and the lock as this process last saw it: the two reads an apply of
hundreds of effects repeats most."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wanbuild.errors import WanbuildError
from wanbuild.reconcile.index import RemoteIndex
from wanbuild.reconcile.lockfile import LockFile
from wanbuild.remote.client import PAGES_IN_FLIGHT, _every_page
from wanbuild.remote.errors import TemporaryRemoteError
from wanbuild.remote.models import Deployment, FineTuneJob, RemoteFile


def _newest_first(
    items: list[int], size: int, asked: list[int], before_page: dict[int, int]
) -> Callable[[int], tuple[list[int], int]]:
    def fetch(n: int) -> tuple[list[int], int]:
        for _ in range(before_page.pop(n, 0)):  # objects created while the listing goes on
            items.insert(0, max(items) + 1)
        asked.append(n)
        return items[(n - 1) * size : n * size], len(items)

    return fetch


def test_the_pages_a_listing_has_are_asked_for_side_by_side() -> None:
    items = list(range(1000, 0, -1))
    meet = threading.Barrier(PAGES_IN_FLIGHT, timeout=10)

    def fetch(n: int) -> tuple[list[int], int]:
        if 2 <= n <= PAGES_IN_FLIGHT + 1:
            meet.wait()  # breaks (and fails the listing) unless that many are in flight at once
        return items[(n - 1) * 100 : n * 100], len(items)

    assert _every_page(fetch) == items


def test_objects_created_while_listing_push_items_onto_later_pages_and_none_is_missed() -> None:
    items, asked = list(range(250, 0, -1)), list[int]()
    fetch = _newest_first(items, 100, asked, {2: 30, 3: 30})  # 310 once page 3 is read
    seen = _every_page(fetch)
    assert set(range(1, 251)) <= set(seen)  # every object that existed when it began
    assert sorted(asked) == [1, 2, 3, 4]  # page 4 holds what the creates pushed past page 3


def test_one_page_is_one_request() -> None:
    asked: list[int] = []
    assert _every_page(_newest_first([3, 2, 1], 100, asked, {})) == [3, 2, 1]
    assert asked == [1]


def _lock(tmp_path: Path) -> LockFile:
    effect = tmp_path / "effects" / "fx"
    effect.mkdir(parents=True)
    return LockFile(effect, "fx", "emulator/cn-beijing", tmp_path / ".wanbuild" / "lineage")


def test_a_lock_replaced_behind_the_runs_back_is_read_afresh(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    lock.update(status="RUNNING")
    assert lock.entry()["status"] == "RUNNING"
    doc = json.loads(lock.path.read_text())
    doc["targets"]["emulator/cn-beijing"]["status"] = "FAILED"  # as long as RUNNING
    new = lock.path.with_name("checked-out")
    new.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(new, lock.path)  # as git's checkout does: a new file of the same size
    os.replace(lock.mirror, lock.mirror.with_name("gone"))
    assert lock.entry()["status"] == "FAILED"


def test_a_lock_edited_in_place_is_read_afresh_and_a_damaged_one_is_refused(
    tmp_path: Path,
) -> None:
    lock = _lock(tmp_path)
    lock.update(status="RUNNING")
    lock.mirror.unlink()
    lock.path.write_text(lock.path.read_text().replace("RUNNING", "SUCCEEDED"))
    assert lock.entry()["status"] == "SUCCEEDED"
    lock.path.write_text("<<<<<<< HEAD\n")
    with pytest.raises(WanbuildError, match="merge-conflict markers"):
        lock.entry()


class _Listings:
    """The client as the index sees it: counts each kind's listings; with `failing`, the first
    listing of each kind fails."""

    def __init__(self, failing: bool = False) -> None:
        self.calls: Counter[str] = Counter()
        self.failing = failing
        self._lock = threading.Lock()

    def _list(self, kind: str, items: list[Any]) -> list[Any]:
        with self._lock:
            self.calls[kind] += 1
            first = self.calls[kind] == 1
        if self.failing and first:
            raise TemporaryRemoteError(f"listing {kind}: 503")
        return items

    def list_files(self, *, api: str) -> list[RemoteFile]:
        return self._list(f"files:{api}", [RemoteFile(file_id="file-1", name="train.zip")])

    def iter_jobs(self) -> Iterator[FineTuneJob]:
        return iter(self._list("jobs", [FineTuneJob(job_id="ft-1", status="RUNNING")]))

    def iter_deployments(self) -> Iterator[Deployment]:
        return iter(self._list("deployments", []))


def test_a_listing_made_in_the_background_is_the_one_the_run_uses() -> None:
    client = _Listings()
    index = RemoteIndex(client)  # type: ignore[arg-type]
    index.load_behind(["native"]).join(timeout=10)
    listed = {"jobs": 1, "deployments": 1, "files:native": 1}
    assert client.calls == listed  # every kind, before anything asked
    assert [j.job_id for j in index.jobs()] == ["ft-1"]
    assert [f.file_id for f in index.files("native")] == ["file-1"]
    assert index.deployments() == []
    assert client.calls == listed  # and nothing listed again


def test_a_kind_the_background_failed_to_list_fails_its_first_use_with_that_error() -> None:
    client = _Listings(failing=True)
    index = RemoteIndex(client)  # type: ignore[arg-type]
    index.load_behind(["native"]).join(timeout=10)  # every kind failed there, and said nothing
    # Offline, the client has waited out its retries there: the run does not wait twice.
    with pytest.raises(TemporaryRemoteError, match="listing jobs: 503"):
        index.jobs()
    with pytest.raises(TemporaryRemoteError, match="listing files:native: 503"):
        index.files("native")
    assert client.calls == {"jobs": 1, "deployments": 1, "files:native": 1}
    # The error goes to one use; the next (another effect's) lists afresh.
    assert [j.job_id for j in index.jobs()] == ["ft-1"]
    assert [f.file_id for f in index.files("native")] == ["file-1"]
    assert client.calls == {"jobs": 2, "deployments": 1, "files:native": 2}
