"""What the service checks in an uploaded dataset zip before training starts.

A failure here does not reject the create call: the job is created and then FAILED after its
data-processing phase, with the message a user would read in the job and its logs.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from wanbuild.emulator.rules import DATA_FILE, IMAGE_FIELDS, LINE_FIELDS, VIDEO_KINDS

if TYPE_CHECKING:
    from wanbuild.spec.effect import Limits

IMAGE_FORMATS = {"BMP", "JPEG", "PNG", "WEBP"}


@dataclass
class DataCheck:
    failure: str | None = None
    samples: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)  # prompt + media names per line


def check_zip(path: Path, kind: str, split: str, limits: Limits | None) -> DataCheck:
    try:
        return _check(path, kind, split, limits)
    except _Fail as e:
        return DataCheck(failure=f"Data validation failed ({split} file): {e}")


class _Fail(Exception):
    pass


def _check(path: Path, kind: str, split: str, limits: Limits | None) -> DataCheck:
    if not zipfile.is_zipfile(path):
        raise _Fail("the file is not a zip archive")
    with zipfile.ZipFile(path) as zf:
        names = {n for n in zf.namelist() if not n.endswith("/")}
        if DATA_FILE not in names:
            raise _Fail("data.jsonl not found at the top of the zip")
        raw = zf.read(DATA_FILE)
        if limits and len(raw) > limits.max_jsonl_bytes:
            raise _Fail(f"data.jsonl is {len(raw)} bytes, over the {limits.max_jsonl_bytes} limit")
        text = raw.decode("utf-8", errors="replace")
        if text.lstrip().startswith("["):
            raise _Fail("data.jsonl must be JSON Lines (one object per line), not a JSON array")
        if kind not in VIDEO_KINDS and any("/" in n for n in names):
            raise _Fail("image datasets must be flat: no sub-directories in the zip")
        required, optional = LINE_FIELDS[(kind, split)]
        items = []
        for n, line in enumerate((x for x in text.splitlines() if x.strip()), 1):
            items.append(_check_line(zf, names, required, optional, n, line, limits))
        minimum = (limits.min_samples if limits and split == "train" else None) or 1
        if len(items) < minimum:
            raise _Fail(f"{len(items)} samples; at least {minimum} are required")
        return DataCheck(samples=len(items), items=items)


def _check_line(
    zf: zipfile.ZipFile,
    names: set[str],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    n: int,
    line: str,
    limits: Limits | None,
) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise _Fail(f"data.jsonl line {n} is not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise _Fail(f"data.jsonl line {n} is not a JSON object")
    if not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
        raise _Fail(f"data.jsonl line {n} has no prompt")
    item: dict[str, Any] = {"prompt": obj["prompt"]}
    for fieldname in (*required, *optional):
        value = obj.get(fieldname)
        if value is None:
            if fieldname in required:
                raise _Fail(f"data.jsonl line {n} has no {fieldname}")
            continue
        name = str(PurePosixPath(str(value))).removeprefix("./")
        if name not in names:
            raise _Fail(f"data.jsonl line {n}: {fieldname} {value!r} is not in the zip")
        _check_media(zf, name, "image" if fieldname in IMAGE_FIELDS else "video", n, limits)
        item[fieldname] = name
    return item


def _check_media(
    zf: zipfile.ZipFile, name: str, media_type: str, n: int, limits: Limits | None
) -> None:
    if limits is None:
        return
    info = zf.getinfo(name)
    # The same medium under the same name in another upload (a caption edited, the dataset
    # uploaded again) is not opened again: the zip gives each entry's CRC-32 and size, so the
    # key costs nothing to read.
    key = (name, info.CRC, info.file_size, media_type, limits)
    with _JUDGED_LOCK:
        verdict = _JUDGED.get(key)
    if verdict is None:
        try:
            _open_media(zf, name, media_type, n, limits)
            verdict = ""
        except _Fail as e:
            verdict = str(e).removeprefix(f"line {n}: ")
        with _JUDGED_LOCK:
            if len(_JUDGED) >= _JUDGED_MAX:
                _JUDGED.clear()
            _JUDGED[key] = verdict
    if verdict:
        raise _Fail(f"line {n}: {verdict}")


_JUDGED: dict[tuple[str, int, int, str, Limits], str] = {}  # "" when the medium passed
_JUDGED_LOCK = threading.Lock()
_JUDGED_MAX = 100_000


def _open_media(zf: zipfile.ZipFile, name: str, media_type: str, n: int, limits: Limits) -> None:
    if media_type == "image":
        from PIL import Image, UnidentifiedImageError

        try:
            with zf.open(name) as f, Image.open(f) as im:
                fmt, (w, h) = im.format or "?", im.size
        except (UnidentifiedImageError, OSError):
            raise _Fail(f"line {n}: {name} is not a readable image") from None
        if fmt not in IMAGE_FORMATS:
            raise _Fail(f"line {n}: {name} is {fmt}; supported: BMP, JPEG, PNG, WEBP")
        if w > limits.image.max_width or h > limits.image.max_height:
            raise _Fail(
                f"line {n}: {name} is {w}x{h}, over {limits.image.max_width}x"
                f"{limits.image.max_height}"
            )
        return
    vl = limits.video
    if vl is None:
        raise _Fail(f"line {n}: {name}: this model takes no videos")
    import av

    try:
        with zf.open(name) as f, av.open(f, "r") as c:
            v = c.streams.video[0]
            w, h = v.codec_context.width, v.codec_context.height
            duration = (
                float(v.duration * v.time_base)
                if v.duration and v.time_base
                else ((c.duration or 0) / av.time_base)
            )
    except (av.error.FFmpegError, IndexError):
        raise _Fail(f"line {n}: {name} is not a readable video") from None
    if PurePosixPath(name).suffix.lower() not in (".mp4", ".mov"):
        raise _Fail(f"line {n}: {name}: supported video formats are MP4 and MOV")
    if w > vl.max_width or h > vl.max_height:
        raise _Fail(f"line {n}: {name} is {w}x{h}, over {vl.max_width}x{vl.max_height}")
    if duration > vl.max_duration_s + 0.05:
        raise _Fail(f"line {n}: {name} lasts {duration:.1f} s, over {vl.max_duration_s:g} s")
