"""samples.yaml, edited round-trip (ruamel.yaml): its comments, order and quoting survive.

Two edits only, both made by a command on the user's behalf: samples appended to `train`
(`init --from` on an existing effect), and a sample's caption replaced by a draft
(`caption`). Every write replaces the file whole (temporary file, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # a caption stays on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(path: Path) -> tuple[Any, Any]:
    yaml = _yaml()
    return yaml, yaml.load(path.read_text(encoding="utf-8"))


def _dump(yaml: Any, doc: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    os.replace(tmp, path)


def append_train(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append `entries` to the `train` list; nothing already there is rewritten."""
    yaml, doc = _load(path)
    if doc.get("train") is None:
        doc["train"] = []
    for entry in entries:
        doc["train"].append(entry)
    _dump(yaml, doc, path)


def set_captions(path: Path, captions: dict[str, dict[str, Any]]) -> None:
    """For each sample id in `captions`, set the keys given (subject, background, draft)."""
    yaml, doc = _load(path)
    for split in ("train", "validation"):
        for sample in doc.get(split) or []:
            changes = captions.get(str(sample.get("id")))
            for key, value in (changes or {}).items():
                sample[key] = value
    _dump(yaml, doc, path)
