"""Multipart uploads taken as they stream in: each file part goes straight to its blob on disk
with its md5 computed on the way, hashing and writing side by side in worker threads while the
next bytes arrive. Nothing is spooled and copied again, and the event loop hashes no more than
a small file's few hundred kilobytes (two hand-offs to workers cost more than that, when
hundreds of effects upload at once).

A large part is copied once, into one of two page-aligned batch buffers that are reused from
upload to upload, and written to its blob with O_DIRECT where the file system allows: the
emulator keeps what it stores out of the page cache, as it seldom reads a blob back. Writing
through the cache took a fresh page for every 4 KiB, and on a VM whose memory is backed on
first touch that, not the disk, set the speed of an upload (375 MB/s here, against 1.3 GB/s
direct)."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

BATCH = 8 << 20  # bytes handed to the workers at a time
INLINE = 1 << 20  # a part this small is hashed and written on the loop, in one piece
ALIGN = 4096  # O_DIRECT writes: offset, length and memory aligned to this
_SPARE: list[mmap.mmap] = []  # batch buffers no part is using (touched once, kept)
_KEEP = 8


def _buffer() -> mmap.mmap:
    try:
        return _SPARE.pop()
    except IndexError:
        return mmap.mmap(-1, BATCH)


class FormError(ValueError):
    """The body is not a form this endpoint can take; the message says why."""


class _Blob:
    """The file a part's bytes go to: opened with O_DIRECT where the file system takes it
    (tmpfs and others refuse it: then through the page cache)."""

    def __init__(self, path: Path, *, direct: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        self.direct = False
        if direct and hasattr(os, "O_DIRECT"):
            try:
                self.fd = os.open(path, flags | os.O_DIRECT, 0o644)
                self.direct = True
                return
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
        self.fd = os.open(path, flags, 0o644)

    def write(self, data: memoryview | bytes) -> None:
        """All of `data`; with O_DIRECT its aligned head directly, a ragged tail (the part's
        last bytes) through the cache."""
        view = memoryview(data)
        if self.direct:
            head, done = len(view) - len(view) % ALIGN, 0
            try:
                while done < head:
                    done += os.write(self.fd, view[done:head])
            except OSError as e:  # alignment stricter than ALIGN: the cache, from here on
                if e.errno != errno.EINVAL:
                    raise
            view = view[done:]
            if view:
                self._buffered()
        while view:
            view = view[os.write(self.fd, view) :]

    def _buffered(self) -> None:
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        self.direct = False

    def close(self) -> None:
        os.close(self.fd)


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
    _fed: list[memoryview] = field(default_factory=list)  # since the last flush
    _small: list[bytes] = field(default_factory=list)  # all of a part still under INLINE
    _fill: int = 0  # bytes in _bufs[0]
    _bufs: list[mmap.mmap] = field(default_factory=list)  # [filling, being written] once large
    _pending: tuple[asyncio.Future[None], ...] = ()
    _out: _Blob | None = None

    @property
    def md5(self) -> str:
        return str(self._md5.hexdigest())

    def feed(self, data: memoryview) -> None:
        """Called by the parser with a view of the chunk it is in; copied out at flush()."""
        if self.too_large:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.too_large = True
            self._fed, self._small = [], []
            return
        self._fed.append(data)

    async def flush(self, *, everything: bool = False) -> None:
        if self.too_large:
            return
        fed, self._fed = self._fed, []
        if not self._bufs:
            self._small.extend(bytes(v) for v in fed)
            if self.size <= INLINE:
                if everything and self._small:
                    chunk = b"".join(self._small)
                    self._small = []
                    self._md5.update(chunk)
                    self._blob().write(chunk)
                return
            fed, self._small = [memoryview(b) for b in self._small], []
            self._bufs = [_buffer(), _buffer()]
        for view in fed:
            while view:
                n = min(len(view), BATCH - self._fill)
                self._bufs[0][self._fill : self._fill + n] = view[:n]
                self._fill += n
                view = view[n:]
                if self._fill == BATCH:
                    await self._dispatch()
        if everything:
            await self._dispatch()

    async def _dispatch(self) -> None:
        """Hand the filled buffer to the workers once the one before it is written."""
        if not self._fill:
            return
        await self._settle()
        out = self._blob()
        batch = memoryview(self._bufs[0])[: self._fill]
        self._bufs.reverse()
        self._fill = 0
        loop = asyncio.get_running_loop()
        # hashing and writing both release the GIL: side by side, while more bytes arrive
        self._pending = (
            loop.run_in_executor(None, self._md5.update, batch),
            loop.run_in_executor(None, out.write, batch),
        )

    def _blob(self) -> _Blob:
        if self._out is None:
            self._out = _Blob(self.path, direct=bool(self._bufs))
        return self._out

    async def _settle(self) -> None:
        pending, self._pending = self._pending, ()
        for f in pending:
            await f

    async def close(self) -> None:
        try:
            await self.flush(everything=True)
            await self._settle()
            self._blob().close()  # an empty file is a file
        finally:
            bufs, self._bufs = self._bufs, []
            _SPARE.extend(bufs[: max(0, _KEEP - len(_SPARE))])
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
            part.feed(memoryview(data)[start:end])
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
            for part in form.files:  # the parts' views of this chunk copied out
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
