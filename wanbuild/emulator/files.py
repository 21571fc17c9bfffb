"""Files: the native API (/api/v1/files, field `files`, `data` envelope) and the OpenAI-compatible
one (/compatible-mode/v1/files, field `file`, OpenAI objects). Bytes are kept on disk."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from wanbuild.emulator import timeline
from wanbuild.emulator.http import (
    ApiError,
    Emulator,
    emulator,
    listing,
    ok,
    page_body,
    plain,
)
from wanbuild.emulator.multipart import FilePart, Form, FormError, receive_form

MAX_FILE_BYTES = 1 << 30


def _blob(emu: Emulator, api: str) -> Callable[[], tuple[str, Path]]:
    def name() -> tuple[str, Path]:
        file_id = str(uuid.uuid4()) if api == "native" else f"file-ft-{secrets.token_hex(10)}"
        return file_id, emu.store.blobs / file_id

    return name


async def _form(emu: Emulator, request: Request, api: str, max_files: int) -> Form:
    try:
        return await receive_form(
            request, blob=_blob(emu, api), limit=MAX_FILE_BYTES, max_files=max_files
        )
    except FormError as e:
        raise ApiError(400, "InvalidParameter", str(e)) from None


def _record_upload(
    emu: Emulator, region: str, part: FilePart, *, api: str, purpose: str, description: str | None
) -> dict[str, Any]:
    if part.too_large:
        return {
            "name": part.filename,
            "code": "BadRequest.TooLarge",
            "message": "The file is larger than 1 GB.",
        }
    doc = {
        "file_id": part.file_id,
        "name": part.filename or part.file_id,
        "description": description,
        "purpose": purpose,
        "size": part.size,
        "md5": part.md5,
        "created": emu.clock(),
        "api": api,
    }
    emu.store.put("file", part.file_id, region, doc)
    return doc


def _native_file(doc: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "file_id": doc["file_id"],
        "name": doc["name"],
        "description": doc["description"],
        "size": doc["size"],
        "md5": doc["md5"],
        "purpose": doc["purpose"],
        "gmt_create": timeline.stamp(doc["created"]),
        "region": region,
        "url": f"/api/v1/files/{doc['file_id']}",
    }


def _compat_file(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["file_id"],
        "object": "file",
        "bytes": doc["size"],
        "filename": doc["name"],
        "purpose": doc["purpose"],
        "status": "processed",
        "status_details": None,
        "created_at": int(doc["created"]),
    }


async def upload_native(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    form = await _form(emu, request, "native", 100)
    files = [f for f in form.files if f.name == "files"]
    for stray in (f for f in form.files if f.name != "files"):
        stray.path.unlink(missing_ok=True)
    if not files:
        raise ApiError(400, "InvalidParameter", "No file found in form field 'files'.")
    descriptions = form.fields.get("descriptions", [])
    purpose = form.get("purpose") or "fine-tune"
    uploaded, failed = [], []
    for i, part in enumerate(files):
        desc = (
            descriptions[i]
            if i < len(descriptions)
            else (descriptions[0] if len(descriptions) == 1 else None)
        )
        doc = _record_upload(emu, region, part, api="native", purpose=purpose, description=desc)
        if "code" in doc:
            failed.append(doc)
        else:
            uploaded.append({"name": doc["name"], "file_id": doc["file_id"]})
    return ok({"uploaded_files": uploaded, "failed_uploads": failed}, key="data")


async def list_native(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    page_no, size, total, docs = listing(
        emu, request, "file", 10, 100, now=emu.clock(), tag="native"
    )
    first = (page_no - 1) * size + 1
    files = [{"id": n, **_native_file(d, region)} for n, d in enumerate(docs, first)]
    return ok(page_body(page_no, size, total, "files", files), key="data")


def _file(emu: Emulator, request: Request) -> dict[str, Any]:
    doc = emu.store.get("file", request.path_params["file_id"], emu.region(request))
    if doc is None:
        raise ApiError(400, "InvalidParameter", "File not found.")
    return doc


async def get_native(request: Request) -> Response:
    emu = emulator(request)
    return ok(_native_file(_file(emu, request), emu.region(request)), key="data")


async def delete_native(request: Request) -> Response:
    emu = emulator(request)
    doc = _file(emu, request)
    emu.store.delete("file", doc["file_id"])
    (emu.store.blobs / doc["file_id"]).unlink(missing_ok=True)
    return ok(None, key="")


async def upload_compat(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    form = await _form(emu, request, "compatible", 1)
    part = next((f for f in form.files if f.name == "file"), None)
    purpose = form.get("purpose") or ""
    if part is None or not purpose:
        for f in form.files:
            f.path.unlink(missing_ok=True)
        if part is None:
            raise ApiError(400, "InvalidParameter", "No file found in form field 'file'.")
        raise ApiError(400, "InvalidParameter", "purpose is required, e.g. fine-tune.")
    doc = _record_upload(emu, region, part, api="compatible", purpose=purpose, description=None)
    if "code" in doc:
        raise ApiError(400, str(doc["code"]), str(doc["message"]))
    return plain(_compat_file(doc))


async def list_compat(request: Request) -> Response:
    emu = emulator(request)
    _total, docs = emu.store.listing(
        "file",
        emu.region(request),
        now=emu.clock(),
        lag=emu.profile.list_lag_s,
        tag="compatible",
        newest_first=False,
    )
    purpose = request.query_params.get("purpose")
    if purpose:
        docs = [d for d in docs if d["purpose"] == purpose]
    after = request.query_params.get("after")
    if after:
        ids = [d["file_id"] for d in docs]
        docs = docs[ids.index(after) + 1 :] if after in ids else []
    limit = int(request.query_params.get("limit", 2000))
    return plain(
        {
            "object": "list",
            "has_more": len(docs) > limit,
            "data": [_compat_file(d) for d in docs[:limit]],
        }
    )


async def get_compat(request: Request) -> Response:
    return plain(_compat_file(_file(emulator(request), request)))


async def delete_compat(request: Request) -> Response:
    emu = emulator(request)
    doc = _file(emu, request)
    emu.store.delete("file", doc["file_id"])
    (emu.store.blobs / doc["file_id"]).unlink(missing_ok=True)
    return plain({"object": "file", "deleted": True, "id": doc["file_id"]})


async def content_compat(request: Request) -> Response:
    emu = emulator(request)
    doc = _file(emu, request)
    return FileResponse(emu.store.blobs / doc["file_id"], filename=doc["name"])
