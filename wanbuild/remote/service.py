"""What the reconciler and the commands call on a backend: the hosted client
(`remote.client.Client`, Model Studio or the embedded emulator over HTTP) and the local
backend (`local.service.LocalService`, training on this machine) both implement it. Nothing
above this line knows which one it talks to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from wanbuild.remote.models import (
    Checkpoint,
    Deployment,
    FineTuneJob,
    LogPage,
    RemoteFile,
    Task,
)

if TYPE_CHECKING:
    from wanbuild.remote.client import Chat

UploadApi = Literal["native", "compatible"]


class Service(Protocol):
    settle_s: float

    def close(self) -> None: ...

    def upload_file(
        self, path: Path, *, api: UploadApi, description: str | None = None
    ) -> RemoteFile: ...

    def get_file(self, file_id: str, *, api: UploadApi) -> RemoteFile: ...

    def list_files(self, *, api: UploadApi) -> list[RemoteFile]: ...

    def delete_file(self, file_id: str, *, api: UploadApi) -> None: ...

    def create_job(
        self,
        model: str,
        training_file_ids: list[str],
        *,
        hyper_parameters: dict[str, Any],
        validation_file_ids: list[str] | None = None,
        training_type: str = "efficient_sft",
        job_name: str | None = None,
        model_name: str | None = None,
    ) -> FineTuneJob: ...

    def get_job(self, job_id: str) -> FineTuneJob: ...

    def iter_jobs(self, *, model: str | None = None) -> Iterator[FineTuneJob]: ...

    def cancel_job(self, job_id: str) -> None: ...

    def delete_job(self, job_id: str) -> None: ...

    def job_logs(self, job_id: str, *, offset: int = 0, line: int = 1000) -> LogPage: ...

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool: ...

    def validation_results(self, job_id: str) -> list[str]: ...

    def validation_details(
        self, job_id: str, checkpoint: str, *, page_no: int = 1, page_size: int = 10
    ) -> dict[str, Any]: ...

    def create_deployment(
        self,
        model_name: str,
        *,
        capacity: int = 1,
        plan: str = "lora",
        aigc_config: dict[str, Any] | None = None,
        suffix: str | None = None,
    ) -> Deployment: ...

    def get_deployment(self, deployed_model: str) -> Deployment: ...

    def iter_deployments(self) -> Iterator[Deployment]: ...

    def delete_deployment(self, deployed_model: str) -> Deployment: ...

    def submit_video(
        self, model: str, img_url: str, *, prompt: str | None = None, resolution: str = "480P"
    ) -> str: ...

    def submit_kf2v(
        self,
        model: str,
        first_frame_url: str,
        last_frame_url: str | None = None,
        *,
        resolution: str = "480P",
    ) -> str: ...

    def submit_image(self, model: str, prompt: str, *, image_url: str | None = None) -> str: ...

    def submit_t2v(self, model: str, prompt: str) -> str: ...

    def get_task(self, task_id: str) -> Task: ...

    def download(self, url: str) -> bytes: ...

    def chat(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> Chat: ...
