"""Deterministic, streamed zip files: the same (name, bytes) pairs give the same zip, byte for byte.

Entries are sorted, stored (not deflated: media do not compress, and stored output does not
depend on the zlib build), dated 1980-01-01, mode 0644, created on "unix". Sources are copied in
1 MiB chunks, so memory stays flat whatever the size. The zip is written to a temporary file
and renamed into place, so a crash never leaves a half-written zip under the final name.

The zip's own sha256 is computed as it is written: once an entry is complete (zipfile has gone
back to put its CRC in the local header), a second thread hashes its bytes, read back from the
page cache, while the next entry is copied. No pass over the finished zip is needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20

Source = Path | bytes


def write_zip(out: Path, entries: Mapping[str, Source]) -> str:
    """Write `entries` ({arcname: file path or bytes}) to `out`, atomically; its sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with (
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf,
            _TrailingHash(tmp) as digest,
        ):
            for arcname in sorted(entries):
                _check_name(arcname)
                source = entries[arcname]
                info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                if isinstance(source, bytes):
                    info.file_size = len(source)
                    with zf.open(info, "w") as dst:
                        dst.write(source)
                else:
                    info.file_size = source.stat().st_size
                    with source.open("rb") as src, zf.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
                assert zf.fp is not None
                zf.fp.flush()  # the entry, header included, is final: hash it meanwhile
                digest.upto(zf.fp.tell())
            zf.close()  # the central directory
            sha256 = digest.finish()
        os.replace(tmp, out)
        return sha256
    finally:
        tmp.unlink(missing_ok=True)


class _TrailingHash:
    """sha256 of a file being written, from a second thread that reads each finished region
    back (hashlib and reads release the GIL, so hashing overlaps the writing)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._hash = hashlib.sha256()
        self._done = 0

    def __enter__(self) -> _TrailingHash:
        self._fd = os.open(self._path, os.O_RDONLY)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="wanbuild-zip-hash")
        self._pending: list[Future[None]] = []
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        os.close(self._fd)

    def upto(self, end: int) -> None:
        """Hash the bytes from where the last call stopped up to `end` (in order)."""
        if end > self._done:
            self._pending.append(self._pool.submit(self._read, self._done, end))
            self._done = end

    def _read(self, start: int, end: int) -> None:
        while start < end:
            chunk = os.pread(self._fd, min(CHUNK * 4, end - start), start)
            if not chunk:
                raise OSError(f"{self._path}: shorter than written")
            self._hash.update(chunk)
            start += len(chunk)

    def finish(self) -> str:
        self.upto(os.stat(self._path).st_size)
        for f in self._pending:
            f.result()
        return self._hash.hexdigest()


def _check_name(arcname: str) -> None:
    pure = PurePosixPath(arcname)
    if pure.is_absolute() or ".." in pure.parts or arcname != pure.as_posix():
        raise ValueError(f"unsafe zip entry name {arcname!r}")
