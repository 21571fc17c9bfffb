"""Asynchronous generation with a deployed model, task polling, and the result files."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
import zipfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from wanbuild.emulator import timeline
from wanbuild.emulator.deployments import live_deployment
from wanbuild.emulator.http import ApiError, emulator, new_request_id, ok, read_json


async def _submit(request: Request, kind: str) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    if request.headers.get("x-dashscope-async", "").lower() != "enable":
        raise ApiError(403, "AccessDenied", "current user api does not support synchronous calls")
    body = await read_json(request)
    now = emu.clock()
    model = str(body.get("model") or "")
    dep = live_deployment(emu, region, model, now)
    if dep is None or timeline.deployment_state(dep, now) != "RUNNING":
        raise ApiError(404, "ModelNotFound", f"Model not found or not running: {model}")
    data = body.get("input") or {}
    if kind == "video":
        url = data.get("img_url")
        if not url:
            raise ApiError(400, "InvalidParameter", "input.img_url is required.")
    elif kind == "kf2v":
        url = data.get("first_frame_url")
        if not url:
            raise ApiError(400, "InvalidParameter", "input.first_frame_url is required.")
    else:
        content = ((data.get("messages") or [{}])[0] or {}).get("content") or []
        url = next((c.get("image") for c in content if isinstance(c, dict) and "image" in c), None)
        if not any(isinstance(c, dict) and c.get("text") for c in content):
            raise ApiError(400, "InvalidParameter", "input.messages needs a text prompt.")
    task_id = str(uuid.uuid4())
    task = {
        "task_id": task_id,
        "kind": "image" if kind == "image" else "video",
        "model": model,
        "url": url,
        "created": now,
        "prompt": data.get("prompt"),
    }
    emu.store.put("task", task_id, region, task)
    return ok({"task_id": task_id, "task_status": "PENDING"})


async def submit_video(request: Request) -> Response:
    return await _submit(request, "video")


async def submit_kf2v(request: Request) -> Response:
    return await _submit(request, "kf2v")


async def submit_image(request: Request) -> Response:
    return await _submit(request, "image")


async def get_task(request: Request) -> Response:
    emu = emulator(request)
    now = emu.clock()
    task_id = request.path_params["task_id"]
    task = emu.store.get("task", task_id, emu.region(request))
    if task is None:
        return ok({"task_id": task_id, "task_status": "UNKNOWN"})
    status = timeline.task_state(task, now)
    out: dict[str, Any] = {
        "task_id": task_id,
        "task_status": status,
        "submit_time": timeline.stamp(task["created"]) + ".000",
    }
    if status != "PENDING":
        out["scheduled_time"] = timeline.stamp(task["created"] + timeline.TASK_PENDING_S) + ".000"
    if status != "SUCCEEDED":
        return ok(out)
    out["end_time"] = timeline.stamp(task["created"] + timeline.TASK_S) + ".000"
    base = str(request.base_url).rstrip("/")
    expires = int(now) + 86400
    if task["kind"] == "video":
        out.update(
            orig_prompt=task.get("prompt") or "",
            video_url=f"{base}/emulator/outputs/{task_id}.mp4?Expires={expires}",
        )
        usage: dict[str, Any] = {"duration": 2, "video_count": 1, "SR": 480}
    else:
        url = f"{base}/emulator/outputs/{task_id}.png?Expires={expires}"
        out.update(
            finished=True,
            choices=[
                {
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": [{"image": url}]},
                }
            ],
        )
        usage = {"size": "1024*1024", "image_count": 1}
    request_id = new_request_id()
    return JSONResponse(
        {"request_id": request_id, "output": out, "usage": usage},
        headers={"x-request-id": request_id},
    )


async def task_output(request: Request) -> Response:
    emu = emulator(request)
    task_id, ext = request.path_params["task_id"], request.path_params["ext"]
    for region in emu.catalog.regions:
        task = emu.store.get("task", task_id, region)
        if task is not None:
            break
    else:
        return Response(status_code=404)
    path = emu.store.outputs / f"{task_id}.{ext}"
    if not path.exists():
        from wanbuild.emulator import outputs  # PIL and PyAV: only when media are asked for

        if ext == "mp4":
            outputs.make_video(path, task.get("url"), task_id)
        else:
            outputs.make_image(path, task.get("url"), task_id)
    return FileResponse(path, media_type="video/mp4" if ext == "mp4" else "image/png")


async def preview_output(request: Request) -> Response:
    """A checkpoint's preview of one validation sample: made from that sample's first frame
    (and kf2v's last frame), its effect stronger the later the checkpoint. Refused once the
    URL's `Expires` has passed, as the object storage that serves the real ones does."""
    emu = emulator(request)
    p = request.path_params
    expires = request.query_params.get("Expires", "")
    if not expires.isdigit() or emu.clock() > int(expires):
        return Response(
            "<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>",
            status_code=403,
            media_type="application/xml",
        )
    path = emu.store.outputs / "previews" / p["job_id"] / p["checkpoint"] / f"{p['i']}.{p['ext']}"
    if not path.exists():
        from wanbuild.emulator import outputs  # PIL and PyAV: only when media are asked for

        job = emu.store.get("job", p["job_id"], emu.region(request))
        if job is None:
            return Response(status_code=404)
        items = job.get("validation_items") or []
        item = items[p["i"]] if 0 <= p["i"] < len(items) else {}
        steps = [c["step"] for c in job["checkpoints"]]
        step = next(
            (c["step"] for c in job["checkpoints"] if c["checkpoint"] == p["checkpoint"]), 0
        )
        strength = step / max(steps or [1])
        first = _zipped(emu, item, "first_frame_path") or _zipped(emu, item, "input_img")
        last = _zipped(emu, item, "last_frame_path")
        # rendered once per picture and strength: effects that share a validation picture
        # (a team's stock first frames, the scale bench's) share its previews
        key = hashlib.sha256(
            b"%s|%s|%.4f|%s" % (first or b"", last or b"", strength, p["ext"].encode())
        ).hexdigest()
        made = emu.store.outputs / "previews" / "by-content" / f"{key}.{p['ext']}"
        if not made.exists():
            seed = key[:16]
            made.parent.mkdir(parents=True, exist_ok=True)
            tmp = made.with_name(f".{made.name}.{uuid.uuid4().hex}.tmp.{p['ext']}")
            if p["ext"] == "mp4":
                outputs.make_preview(tmp, first, last, strength, seed)
            else:
                outputs.make_preview_image(tmp, first, strength, seed)
            tmp.replace(made)
        path = made
    return FileResponse(path)


def _zipped(emu: Any, item: dict[str, Any], key: str) -> bytes | None:
    name, file_id = item.get(key), item.get("file_id")
    if not name or not file_id:
        return None
    try:
        with zipfile.ZipFile(emu.store.blobs / Path(str(file_id)).name) as zf:
            return zf.read(str(name))
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


async def input_file(request: Request) -> Response:
    """A file inside an uploaded dataset zip (the first frames that validation details name)."""
    blob = emulator(request).store.blobs / Path(request.path_params["file_id"]).name
    name = request.path_params["name"]
    try:
        with zipfile.ZipFile(blob) as zf:
            data = zf.read(name)
    except (OSError, KeyError, zipfile.BadZipFile):
        return Response(status_code=404)
    return Response(data, media_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
