"""The zips the guides document, per kind and split: entry names and data.jsonl lines.

    i2v   flat:            data.jsonl, <id>.jpg, <id>.mp4
    kf2v  two folders:     data.jsonl, image/<id>_first.jpg, image/<id>_last.png, video/<id>.mp4
    t2i   flat, no dirs:   data.jsonl, <id>.png              (paths written "./<name>")
    i2i   flat, no dirs:   data.jsonl, <id>_in.jpg, <id>_out.jpg
    t2v   flat:            data.jsonl, <id>.mp4                 (the local backend)
Validation zips carry prompts and input images only: no videos, no target images.
Entry names come from sample ids (checked to be [A-Za-z0-9_-]), so they are safe and unique.
"""

from __future__ import annotations

import json
from typing import Any

from wanbuild.spec.kinds import SAMPLE_MEDIA

# data.jsonl field per media key, in the order the guides write them.
FIELDS: dict[str, dict[str, str]] = {
    "i2v": {"first_frame": "first_frame_path", "video": "video_path"},
    "kf2v": {
        "first_frame": "first_frame_path",
        "last_frame": "last_frame_path",
        "video": "video_path",
    },
    "t2i": {"image": "img_path"},
    "i2i": {"input_image": "input_img", "image": "img_path"},
    "t2v": {"video": "video_path"},
}
_NAME = {
    "i2v": {"first_frame": "{id}{ext}", "video": "{id}{ext}"},
    "kf2v": {
        "first_frame": "image/{id}_first{ext}",
        "last_frame": "image/{id}_last{ext}",
        "video": "video/{id}{ext}",
    },
    "t2i": {"image": "{id}{ext}"},
    "i2i": {"input_image": "{id}_in{ext}", "image": "{id}_out{ext}"},
    "t2v": {"video": "{id}{ext}"},
}
JSONL = "data.jsonl"
ZIP_NAMES = {"train": "train.zip", "validation": "valid.zip"}


def entry_name(kind: str, sample_id: str, key: str, ext: str) -> str:
    return _NAME[kind][key].format(id=sample_id, ext=ext)


def jsonl_path(kind: str, name: str) -> str:
    """How data.jsonl names an entry: the image guide writes "./1_0.png", the video guides not."""
    return f"./{name}" if kind in ("t2i", "i2i") else name


def jsonl_line(kind: str, prompt: str, names: dict[str, str]) -> dict[str, Any]:
    line: dict[str, Any] = {"prompt": prompt}
    for key, field in FIELDS[kind].items():
        if key in names:
            line[field] = jsonl_path(kind, names[key])
    return line


def encode_jsonl(lines: list[dict[str, Any]]) -> bytes:
    """JSON Lines, one object per line (never a JSON array), UTF-8 as written."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def jsonl_schema(kind: str, split: str) -> dict[str, Any]:
    """The JSON Schema every data.jsonl line of this kind and split must satisfy."""
    rule = SAMPLE_MEDIA[(kind, split)]
    path = {"type": "string", "pattern": r"^(\./)?[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?\.[a-z0-9]+$"}
    properties: dict[str, Any] = {"prompt": {"type": "string", "minLength": 1}}
    properties.update({FIELDS[kind][k]: path for k in rule.allowed})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"data.jsonl line, {kind} {split}",
        "type": "object",
        "additionalProperties": False,
        "required": ["prompt", *(FIELDS[kind][k] for k in rule.required)],
        "properties": properties,
    }
