"""The emulator's HTTP surface: the documented DashScope fine-tuning API as a Starlette app.

Envelopes, ids, timestamps, status values and error bodies follow the reference
(docs/emulator.md lists what is not reproduced). The region is taken from the Host header
(dashscope.aliyuncs.com -> cn-beijing, dashscope-intl.aliyuncs.com -> ap-southeast-1), else the
server's default, and every object lives in one region, as API keys do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from wanbuild.config.catalog import Catalog
from wanbuild.emulator import chat, files, timeline
from wanbuild.emulator import deployments as dep
from wanbuild.emulator import finetunes as ft
from wanbuild.emulator import generation as gen
from wanbuild.emulator.clock import ScaledClock
from wanbuild.emulator.faults import Faults
from wanbuild.emulator.http import ApiError, Emulator, Gate, emulator, error
from wanbuild.emulator.profile import TYPICAL, Profile
from wanbuild.emulator.store import Store


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "time": emulator(request).clock()})


AIGC = "/api/v1/services/aigc"
FT = "/api/v1/fine-tunes/{job_id}"
ROUTES = [
    Route("/api/v1/files", files.upload_native, methods=["POST"]),
    Route("/api/v1/files", files.list_native, methods=["GET"]),
    Route("/api/v1/files/{file_id}", files.get_native, methods=["GET"]),
    Route("/api/v1/files/{file_id}", files.delete_native, methods=["DELETE"]),
    Route("/compatible-mode/v1/files", files.upload_compat, methods=["POST"]),
    Route("/compatible-mode/v1/files", files.list_compat, methods=["GET"]),
    Route("/compatible-mode/v1/files/{file_id}", files.get_compat, methods=["GET"]),
    Route("/compatible-mode/v1/files/{file_id}", files.delete_compat, methods=["DELETE"]),
    Route("/compatible-mode/v1/files/{file_id}/content", files.content_compat, methods=["GET"]),
    Route("/api/v1/fine-tunes", ft.create_job, methods=["POST"]),
    Route("/api/v1/fine-tunes", ft.list_jobs, methods=["GET"]),
    Route(FT, ft.get_job, methods=["GET"]),
    Route(FT, ft.delete_job, methods=["DELETE"]),
    Route(f"{FT}/cancel", ft.cancel_job, methods=["POST"]),
    Route(f"{FT}/logs", ft.job_logs, methods=["GET"]),
    Route(f"{FT}/checkpoints", ft.list_checkpoints, methods=["GET"]),
    Route(f"{FT}/export/{{checkpoint}}", ft.export_checkpoint, methods=["GET"]),
    Route(f"{FT}/validation-results", ft.validation_results, methods=["GET"]),
    Route(f"{FT}/validation-details/{{checkpoint}}", ft.validation_details, methods=["GET"]),
    Route("/api/v1/deployments", dep.create_deployment, methods=["POST"]),
    Route("/api/v1/deployments", dep.list_deployments, methods=["GET"]),
    Route("/api/v1/deployments/{name}", dep.get_deployment, methods=["GET"]),
    Route("/api/v1/deployments/{name}", dep.delete_deployment, methods=["DELETE"]),
    Route("/api/v1/deployments/{name}/scale", dep.scale_deployment, methods=["PUT"]),
    Route(f"{AIGC}/video-generation/video-synthesis", gen.submit_video, methods=["POST"]),
    Route(f"{AIGC}/image2video/video-synthesis", gen.submit_kf2v, methods=["POST"]),
    Route(f"{AIGC}/image-generation/generation", gen.submit_image, methods=["POST"]),
    Route("/api/v1/tasks/{task_id}", gen.get_task, methods=["GET"]),
    Route("/emulator/outputs/{task_id}.{ext:str}", gen.task_output, methods=["GET"]),
    Route(
        "/emulator/previews/{job_id}/{checkpoint}/{i:int}.{ext:str}",
        gen.preview_output,
        methods=["GET"],
    ),
    Route("/emulator/inputs/{file_id}/{name:path}", gen.input_file, methods=["GET"]),
    Route("/compatible-mode/v1/chat/completions", chat.chat_completions, methods=["POST"]),
    Route("/emulator/health", health, methods=["GET"]),
]


def create_app(
    state_dir: Path,
    catalog: Catalog,
    *,
    region: str = "cn-beijing",
    time_scale: float = 1.0,
    clock: Callable[[], float] | None = None,
    faults: Faults | None = None,
    profile: Profile = TYPICAL,
    api_key: str | None = None,
) -> ASGIApp:
    store = Store(state_dir, listed_by)
    clock = clock or _persistent_clock(store, time_scale)
    faults = faults or Faults()
    faults.reseed(_opening(store))
    emu = Emulator(store, catalog, region, clock, faults, profile)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error(exc.status, exc.code, exc.message, retry=exc.retry)

    app = Starlette(routes=ROUTES, exception_handlers={ApiError: api_error})
    app.state.emulator = emu
    return Gate(app, emu.faults, api_key)


def _opening(store: Store) -> int:
    """How many times this state has been opened, this time included."""
    with store.writing():
        n = int(store.meta("openings") or 0) + 1
        store.set_meta("openings", str(n))
    return n


def _persistent_clock(store: Store, scale: float) -> ScaledClock:
    """Continue simulated time from where the last run left it, at this run's scale."""
    wall = time.time()
    with store.writing():
        anchor = store.meta("clock")
        if anchor is None:
            sim = wall
        else:
            sim0, wall0, scale0 = (float(x) for x in anchor.split())
            sim = sim0 + (wall - wall0) * scale0
        store.set_meta("clock", f"{sim} {wall} {scale}")
    return ScaledClock(sim, wall, scale)


def listed_by(kind: str, doc: dict[str, Any]) -> tuple[str | None, float | None]:
    """What the list calls filter on: (tag, when the object leaves the lists)."""
    if kind == "file":
        return str(doc["api"]), None
    if kind == "job":
        return str(doc["model"]), (float("-inf") if doc.get("deleted") else None)
    if kind == "deployment" and doc.get("delete_at") is not None:
        return None, float(doc["delete_at"]) + timeline.DELETE_S
    return None, None
