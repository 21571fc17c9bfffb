"""Multipart uploads taken as they stream in: each file part goes straight to its blob on disk
with its md5 computed on the way, hashing and writing side by side in worker threads while the
next bytes arrive. Nothing is spooled and copied again, and the event loop hashes no more than
a small file's few hundred kilobytes (two hand-offs to workers cost more than that, when
hundreds of effects upload at once)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

BATCH = 4 << 20  # bytes handed to the worker at a time
INLINE = 1 << 20  # a last batch this small is hashed and written on the loop


class FormError(ValueError):
    """The body is not a form this endpoint can take; the message says why."""


@dataclass
class FilePart:
    name: str  # the form field
    filename: str | None
    file_id: str
    path: Path
    limit: int
    size: int = 0
    too_large: bool = False
    _md5: Any = field(default_factory=hashlib.md5)
    _buf: list[bytes] = field(default_factory=list)
    _buffered: int = 0
    _pending: tuple[asyncio.Future[None], ...] = ()
    _out: Any = None

    @property
    def md5(self) -> str:
        return str(self._md5.hexdigest())

    def feed(self, data: bytes) -> None:
        if self.too_large:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.too_large = True
            self._buf, self._buffered = [], 0
            return
        self._buf.append(data)
        self._buffered += len(data)

    async def flush(self, *, everything: bool = False) -> None:
        if self._buffered < BATCH and not (everything and self._buffered):
            return
        chunk = b"".join(self._buf)
        self._buf, self._buffered = [], 0
        await self._settle()
        if self._out is None:
            self._out = self.path.open("wb")
        if everything and len(chunk) <= INLINE:
            self._md5.update(chunk)
            self._out.write(chunk)
            return
        loop = asyncio.get_running_loop()
        # hashing and writing both release the GIL: side by side, while more bytes arrive
        self._pending = (
            loop.run_in_executor(None, self._md5.update, chunk),
            loop.run_in_executor(None, self._out.write, chunk),
        )

    async def _settle(self) -> None:
        pending, self._pending = self._pending, ()
        for f in pending:
            await f

    async def close(self) -> None:
        await self.flush(everything=True)
        await self._settle()
        if self._out is None:
            self._out = self.path.open("wb")  # an empty file is a file
        self._out.close()
        if self.too_large:
            self.path.unlink(missing_ok=True)


@dataclass
class Form:
    files: list[FilePart] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


async def receive_form(
    request: Request,
    *,
    blob: Callable[[], tuple[str, Path]],
    limit: int,
    max_files: int,
) -> Form:
    """Parse a multipart/form-data body as it arrives. `blob()` names the next file part
    (its id and where its bytes go); parts over `limit` bytes are kept as too_large, with
    nothing on disk. Raises FormError for a body that is not such a form."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise FormError("The request must be multipart/form-data with a boundary.")
    form = Form()
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b""}

    def on_part_begin() -> None:
        state.update(headers={}, part=None, data=[])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state.update(field=b"", value=b"")

    def on_headers_finished() -> None:
        _disposition, options = parse_options_header(
            state["headers"].get(b"content-disposition", b"")
        )
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            state.update(name=name)
            return
        if len(form.files) >= max_files:
            raise FormError(f"Too many files: at most {max_files} per request.")
        file_id, path = blob()
        filename = options[b"filename"].decode("utf-8", "replace") or None
        part = FilePart(name, filename, file_id, path, limit)
        form.files.append(part)
        state.update(part=part)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = state.get("part")
        if part is not None:
            part.feed(data[start:end])
        else:
            state["data"].append(data[start:end])

    def on_part_end() -> None:
        if state.get("part") is None:
            value = b"".join(state["data"]).decode("utf-8", "replace")
            form.fields.setdefault(state["name"], []).append(value)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            for part in form.files[-1:]:
                await part.flush()
        parser.finalize()
    except FormError:
        await _discard(form)
        raise
    except MultipartParseError as e:
        await _discard(form)
        raise FormError(f"The multipart body could not be parsed: {e}") from None
    for part in form.files:
        await part.close()
    return form


async def _discard(form: Form) -> None:
    for part in form.files:
        part.too_large = True  # nothing kept
        await part.close()
