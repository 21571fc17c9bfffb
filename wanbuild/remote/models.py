"""The service's responses as typed values, checked once at the boundary by `parse`: a field of
the wrong type, or a required one missing, is a PermanentRemoteError that names it. Unknown
fields are ignored (the service adds fields over time); missing optional ones are None.

Plain dataclasses read by their annotations: a run that only lists the remote (a plan of
unchanged effects) loads no validation library.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wanbuild.remote.errors import PermanentRemoteError

M = TypeVar("M")


@dataclass(frozen=True)
class RemoteFile:
    file_id: str
    name: str
    description: str | None = None
    size: int | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class FineTuneJob:
    job_id: str
    status: str
    job_name: str | None = None
    finetuned_output: str | None = None
    model: str | None = None
    base_model: str | None = None
    training_file_ids: list[str] = field(default_factory=list)
    validation_file_ids: list[str] = field(default_factory=list)
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    training_type: str | None = None
    create_time: str | None = None
    end_time: str | None = None
    usage: int | None = None
    output_cnt: int | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class JobPage:
    page_no: int
    page_size: int
    total: int
    jobs: list[FineTuneJob]


@dataclass(frozen=True)
class LogPage:
    total: int
    logs: list[str]


@dataclass(frozen=True)
class Checkpoint:
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


@dataclass(frozen=True)
class Deployment:
    deployed_model: str
    status: str
    model_name: str | None = None
    base_model: str | None = None
    capacity: int | None = None
    plan: str | None = None
    aigc_config: dict[str, Any] | None = None
    gmt_create: str | None = None
    gmt_modified: str | None = None


@dataclass(frozen=True)
class DeploymentPage:
    page_no: int
    page_size: int
    total: int
    deployments: list[Deployment]


@dataclass(frozen=True)
class Task:
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


def parse(cls: type[M], doc: object) -> M:
    """`doc`, a JSON object from the service, as a `cls`."""
    return _object(cls, doc, cls.__name__)


def _object(cls: type[M], doc: object, where: str) -> M:
    if not isinstance(doc, dict):
        raise _unexpected(where, "an object", doc)
    values = {}
    for name, (kind, required) in _fields(cls).items():
        if name in doc:
            values[name] = _value(kind, doc[name], f"{where}.{name}")
        elif required:
            raise PermanentRemoteError(f"unexpected reply from the service: no {where}.{name}")
    return cls(**values)


_FIELDS: dict[type, dict[str, tuple[Any, bool]]] = {}


def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """{field: (its type, whether it is required)} of a dataclass, read once per class."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        _FIELDS[cls] = {
            f.name: (
                hints[f.name],
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
        }
    return _FIELDS[cls]


def _value(kind: Any, value: object, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # only `X | None` is used here
        if value is None:
            return None
        (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
        origin = typing.get_origin(kind)
    if origin is list:
        if not isinstance(value, list):
            raise _unexpected(where, "a list", value)
        (item,) = typing.get_args(kind)
        return [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:  # dict[str, Any]: passed on as the service wrote it
        if not isinstance(value, dict):
            raise _unexpected(where, "an object", value)
        return dict(value)
    if kind is str:
        if not isinstance(value, str):
            raise _unexpected(where, "a string", value)
        return value
    if kind is int:
        return _integer(value, where)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _object(kind, value, where)
    if kind is Any:
        return value
    raise TypeError(f"{where}: no reading of {kind!r}")  # a field type this module lacks


def _integer(value: object, where: str) -> int:
    """An int, as the service may also write one: 12.0 or "12"."""
    if isinstance(value, bool):
        raise _unexpected(where, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _unexpected(where, "an integer", value)


def _unexpected(where: str, wanted: str, got: object) -> PermanentRemoteError:
    shown = repr(got) if len(repr(got)) <= 60 else f"{repr(got)[:57]}..."
    return PermanentRemoteError(
        f"unexpected reply from the service: {where} should be {wanted}, not {shown}"
    )
