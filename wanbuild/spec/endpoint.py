"""Where an effect's requests go: the region (its endpoint and upload API) and the backend (the
embedded emulator or the real service).

Plain frozen dataclasses, validated as fields of the effect spec (wanbuild.spec.effect) when an
effect is composed, and rebuilt from the plan cache without validation when it is not: a plan
of unchanged effects needs them and nothing of the spec's validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

# read by pydantic where these are fields of the spec: an unknown key is an error there too
_STRICT: dict[str, Any] = {"extra": "forbid"}


@dataclass(frozen=True)
class Region:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: str
    base_url: str
    upload_api: Literal["native", "compatible"]


@dataclass(frozen=True)
class Backend:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Literal["emulator", "dashscope", "local"]
    state_dir: str | None = None
    time_scale: float | None = None
    profile: str | None = None
    base_url: str | None = None
    workspace: str | None = None
    # the real service only: how machines applying the same effects keep from training one
    # twice (git: a lease on the project's git remote; local: this machine is the only one)
    lease: Literal["git", "local"] | None = None
    lease_remote: str | None = None
    lease_ttl: float | None = None
    # the local backend only: where published LoRAs go (e.g. ComfyUI's models/loras), and
    # how many processes a worker trains with (torch distributed; one per GPU)
    library_dir: str | None = None
    num_processes: int | None = None
