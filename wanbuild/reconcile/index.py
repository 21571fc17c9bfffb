"""The remote listed once per run: files, jobs and deployments by id, shared by every effect.

A plan or status of many effects asks the service for each kind once (paged) instead of one GET
per recorded id per effect. An id the listing does not show (lists may lag behind creates, or
the object is gone) is looked up by id, so the answer is the same as without the index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.models import Deployment, FineTuneJob, RemoteFile

T = TypeVar("T")
Api = Literal["native", "compatible"]


class RemoteIndex:
    """Each kind is listed on first use (or all at once by load()); safe to share between
    threads."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._files: dict[str, dict[str, RemoteFile]] = {}
        self._jobs: dict[str, FineTuneJob] | None = None
        self._deployments: dict[str, Deployment] | None = None
        self._lock = threading.Lock()

    def load(self, apis: Iterable[Api] = ()) -> None:
        """List jobs, deployments and the files of `apis` now (the files of another upload API
        are listed on first use)."""
        self._job_table()
        self._deployment_table()
        for api in apis:
            self._file_table(api)

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

    def _file_table(self, api: Api) -> dict[str, RemoteFile]:
        with self._lock:
            if api not in self._files:
                self._files[api] = {f.file_id: f for f in self.client.list_files(api=api)}
            return self._files[api]

    def _job_table(self) -> dict[str, FineTuneJob]:
        with self._lock:
            if self._jobs is None:
                self._jobs = {j.job_id: j for j in self.client.iter_jobs()}
            return self._jobs

    def _deployment_table(self) -> dict[str, Deployment]:
        with self._lock:
            if self._deployments is None:
                self._deployments = {d.deployed_model: d for d in self.client.iter_deployments()}
            return self._deployments


def fetch(get: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """GET by id; None when the service says the object does not exist (404, or the files
    API's 400 "File not found")."""
    try:
        return get(*args, **kwargs)
    except PermanentRemoteError as e:
        if e.status == 404 or (e.status == 400 and "not found" in str(e).lower()):
            return None
        raise
