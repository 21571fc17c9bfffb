"""The service's responses as typed values, parsed once at the boundary. Unknown fields are kept
(the service adds fields over time); missing optional ones are None."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class RemoteFile(_Model):
    file_id: str
    name: str
    description: str | None = None
    size: int | None = None
    purpose: str | None = None


class FineTuneJob(_Model):
    job_id: str
    status: str
    job_name: str | None = None
    finetuned_output: str | None = None
    model: str | None = None
    base_model: str | None = None
    training_file_ids: list[str] = []
    validation_file_ids: list[str] = []
    hyper_parameters: dict[str, Any] = {}
    training_type: str | None = None
    create_time: str | None = None
    end_time: str | None = None
    usage: int | None = None
    output_cnt: int | None = None
    code: str | None = None
    message: str | None = None


class JobPage(_Model):
    page_no: int
    page_size: int
    total: int
    jobs: list[FineTuneJob]


class LogPage(_Model):
    total: int
    logs: list[str]


class Checkpoint(_Model):
    checkpoint: str
    create_time: str | None = None
    full_name: str | None = None
    job_id: str | None = None
    model_name: str | None = None
    model_display_name: str | None = None
    status: str | None = None

    @property
    def number(self) -> int:
        return int(self.checkpoint.rsplit("-", 1)[-1])


class Deployment(_Model):
    deployed_model: str
    status: str
    model_name: str | None = None
    base_model: str | None = None
    capacity: int | None = None
    plan: str | None = None
    aigc_config: dict[str, Any] | None = None
    gmt_create: str | None = None
    gmt_modified: str | None = None


class DeploymentPage(_Model):
    page_no: int
    page_size: int
    total: int
    deployments: list[Deployment]


class Task(_Model):
    task_id: str
    task_status: str
    video_url: str | None = None
    choices: list[dict[str, Any]] | None = None
    code: str | None = None
    message: str | None = None

    @property
    def image_url(self) -> str | None:
        for choice in self.choices or []:
            for part in choice.get("message", {}).get("content", []):
                if "image" in part:
                    return str(part["image"])
        return None
