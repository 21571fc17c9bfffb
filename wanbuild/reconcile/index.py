"""The remote listed once per run: files, jobs and deployments by id, shared by every effect.

A plan or status of many effects asks the service for each kind once (paged) instead of one GET
per recorded id per effect. An id the listing does not show (lists may lag behind creates, or
the object is gone) is looked up by id, so the answer is the same as without the index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.models import Deployment, FineTuneJob, RemoteFile

T = TypeVar("T")
Api = Literal["native", "compatible"]


class RemoteIndex:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._files: dict[str, dict[str, RemoteFile]] = {}
        self._jobs: dict[str, FineTuneJob] | None = None
        self._deployments: dict[str, Deployment] | None = None

    def file(self, file_id: str, api: Api) -> RemoteFile | None:
        if api not in self._files:
            self._files[api] = {f.file_id: f for f in self.client.list_files(api=api)}
        return self._files[api].get(file_id) or fetch(self.client.get_file, file_id, api=api)

    def job(self, job_id: str) -> FineTuneJob | None:
        if self._jobs is None:
            self._jobs = {j.job_id: j for j in self.client.iter_jobs()}
        return self._jobs.get(job_id) or fetch(self.client.get_job, job_id)

    def deployment(self, name: str) -> Deployment | None:
        if self._deployments is None:
            self._deployments = {d.deployed_model: d for d in self.client.iter_deployments()}
        return self._deployments.get(name) or fetch(self.client.get_deployment, name)


def fetch(get: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """GET by id; None when the service says the object does not exist (404, or the files
    API's 400 "File not found")."""
    try:
        return get(*args, **kwargs)
    except PermanentRemoteError as e:
        if e.status == 404 or (e.status == 400 and "not found" in str(e).lower()):
            return None
        raise
