"""Files: the native API (/api/v1/files, field `files`, `data` envelope) and the OpenAI-compatible
one (/compatible-mode/v1/files, field `file`, OpenAI objects). Bytes are kept on disk."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from wanbuild.emulator import timeline
from wanbuild.emulator.http import ApiError, Emulator, emulator, listed, ok, page, paged, plain

MAX_FILE_BYTES = 1 << 30


async def _save_upload(
    emu: Emulator, region: str, upload: Any, *, api: str, purpose: str, description: str | None
) -> dict[str, Any] | dict[str, str]:
    file_id = str(uuid.uuid4()) if api == "native" else f"file-ft-{secrets.token_hex(10)}"
    path = emu.store.blobs / file_id
    md5 = hashlib.md5()
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                out.close()
                path.unlink(missing_ok=True)
                return {
                    "name": upload.filename,
                    "code": "BadRequest.TooLarge",
                    "message": "The file is larger than 1 GB.",
                }
            md5.update(chunk)
            out.write(chunk)
    now = emu.clock()
    doc = {
        "file_id": file_id,
        "name": upload.filename or file_id,
        "description": description,
        "purpose": purpose,
        "size": size,
        "md5": md5.hexdigest(),
        "created": now,
        "api": api,
    }
    emu.store.put("file", file_id, region, doc)
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
    async with request.form(max_files=100) as form:
        files = [f for f in form.getlist("files") if hasattr(f, "read")]
        if not files:
            raise ApiError(400, "InvalidParameter", "No file found in form field 'files'.")
        descriptions = [str(d) for d in form.getlist("descriptions")]
        purpose = str(form.get("purpose") or "fine-tune")
        uploaded, failed = [], []
        for i, upload in enumerate(files):
            desc = (
                descriptions[i]
                if i < len(descriptions)
                else (descriptions[0] if len(descriptions) == 1 else None)
            )
            doc = await _save_upload(
                emu, region, upload, api="native", purpose=purpose, description=desc
            )
            if "code" in doc:
                failed.append(doc)
            else:
                uploaded.append({"name": doc["name"], "file_id": doc["file_id"]})
    return ok({"uploaded_files": uploaded, "failed_uploads": failed}, key="data")


async def list_native(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    page_no, size = page(request, 10, 100)
    shown = listed(emu, emu.store.all("file", region), emu.clock())
    docs = [d for d in shown if d["api"] == "native"][::-1]

    def view(numbered: tuple[int, dict[str, Any]]) -> dict[str, Any]:
        return {"id": numbered[0], **_native_file(numbered[1], region)}

    return ok(paged(list(enumerate(docs, 1)), page_no, size, "files", view), key="data")


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
    async with request.form(max_files=1) as form:
        upload = form.get("file")
        if not hasattr(upload, "read"):
            raise ApiError(400, "InvalidParameter", "No file found in form field 'file'.")
        purpose = str(form.get("purpose") or "")
        if not purpose:
            raise ApiError(400, "InvalidParameter", "purpose is required, e.g. fine-tune.")
        doc = await _save_upload(
            emu, region, upload, api="compatible", purpose=purpose, description=None
        )
    if "code" in doc:
        raise ApiError(400, str(doc["code"]), str(doc["message"]))
    return plain(_compat_file(doc))


async def list_compat(request: Request) -> Response:
    emu = emulator(request)
    shown = listed(emu, emu.store.all("file", emu.region(request)), emu.clock())
    docs = [d for d in shown if d["api"] == "compatible"]
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
