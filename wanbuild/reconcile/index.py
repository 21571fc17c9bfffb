"""The remote listed once per run: files, jobs and deployments by id, shared by every effect.

A plan or status of many effects asks the service for each kind once (paged) instead of one GET
per recorded id per effect. An id the listing does not show (lists may lag behind creates, or
the object is gone) is looked up by id, so the answer is the same as without the index.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, Literal, TypeVar

from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.models import Deployment, FineTuneJob, RemoteFile
from wanbuild.remote.service import Service

T = TypeVar("T")
Api = Literal["native", "compatible"]


class RemoteIndex:
    """Each kind is listed on first use (or all at once by load()); safe to share between
    threads."""

    def __init__(self, client: Service) -> None:
        self.client = client
        self._tables: dict[str, dict[str, Any]] = {}
        self._failed: dict[str, Exception] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def load(self, apis: Iterable[Api] = (), *, keep_errors: bool = False) -> None:
        """List jobs, deployments and the files of `apis` now, side by side (the files of
        another upload API are listed on first use). `keep_errors`: a kind that fails is
        not listed again; its first use raises the error."""
        kinds = [self._job_table, self._deployment_table]
        kinds += [functools.partial(self._file_table, api) for api in apis]
        with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
            for _ in pool.map(lambda table: table(keep_errors=keep_errors), kinds):
                pass

    def load_behind(self, apis: Iterable[Api] = ()) -> threading.Thread:
        """load() in a thread of its own (returned, started), while the run goes on with its
        local work: reading its caches, waiting for the stat walk. A kind it fails to list
        (after the client's retries) fails the first use of it with the same error, rather
        than being listed again: offline, the run waits out one round of retries, not two."""

        def run() -> None:
            with suppress(Exception):
                self.load(apis, keep_errors=True)

        thread = threading.Thread(target=run, name="wanbuild-listing", daemon=True)
        thread.start()
        return thread

    def files(self, api: Api) -> list[RemoteFile]:
        return list(self._file_table(api).values())

    def jobs(self) -> list[FineTuneJob]:
        return list(self._job_table().values())

    def deployments(self) -> list[Deployment]:
        return list(self._deployment_table().values())

    def listed(
        self, jobs: list[str], deployments: list[str], files: list[str], api: Api
    ) -> tuple[object, ...] | None:
        """These objects as the listing shows them; None when any is not in it (a GET would
        be needed to know it)."""
        found: list[object] = []
        for table, ids in (
            (self._job_table(), jobs),
            (self._deployment_table(), deployments),
            (self._file_table(api) if files else {}, files),
        ):
            for i in ids:
                obj = table.get(i)
                if obj is None:
                    return None
                found.append(obj)
        return tuple(found)

    def file(self, file_id: str, api: Api) -> RemoteFile | None:
        listed = self._file_table(api).get(file_id)
        return listed or fetch(self.client.get_file, file_id, api=api)

    def job(self, job_id: str) -> FineTuneJob | None:
        return self._job_table().get(job_id) or fetch(self.client.get_job, job_id)

    def deployment(self, name: str) -> Deployment | None:
        listed = self._deployment_table().get(name)
        return listed or fetch(self.client.get_deployment, name)

    def _file_table(self, api: Api, *, keep_errors: bool = False) -> dict[str, RemoteFile]:
        listing = functools.partial(self.client.list_files, api=api)
        return self._table(f"files:{api}", listing, "file_id", keep_errors)

    def _job_table(self, *, keep_errors: bool = False) -> dict[str, FineTuneJob]:
        return self._table("jobs", self.client.iter_jobs, "job_id", keep_errors)

    def _deployment_table(self, *, keep_errors: bool = False) -> dict[str, Deployment]:
        listing = self.client.iter_deployments
        return self._table("deployments", listing, "deployed_model", keep_errors)

    def _table(
        self, kind: str, listing: Callable[[], Iterable[T]], key: str, keep_errors: bool
    ) -> dict[str, T]:
        """One kind's listing, by id: listed once, by the first to ask (each kind on its own,
        so that kinds are listed side by side). `keep_errors`: a failure is kept for the next
        to ask, instead of that one listing again."""
        with self._lock:
            lock = self._locks.setdefault(kind, threading.Lock())
        with lock:
            if kind in self._failed:
                raise self._failed.pop(kind)
            if kind not in self._tables:
                try:
                    self._tables[kind] = {getattr(o, key): o for o in listing()}
                except Exception as e:
                    if keep_errors:
                        self._failed[kind] = e
                    raise
            return self._tables[kind]


def fetch(get: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """GET by id; None when the service says the object does not exist (404, or the files
    API's 400 "File not found")."""
    try:
        return get(*args, **kwargs)
    except PermanentRemoteError as e:
        if e.status == 404 or (e.status == 400 and "not found" in str(e).lower()):
            return None
        raise
