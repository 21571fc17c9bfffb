"""The effect's YAML, edited on the user's behalf: comments, order and quoting survive.

samples.yaml is edited round-trip (ruamel.yaml): samples appended to `train` (`init --from` on
an existing effect), a sample's caption replaced by a draft (`caption`). effect.yaml's
`deploy.checkpoint` (`pin`) is found with ruamel and replaced in the text itself, so the rest
of the file stays byte for byte as written. Every write replaces the file whole (temporary
file, then rename).
"""

from __future__ import annotations

import os
import re
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


def set_deploy_checkpoint(path: Path, value: str | None) -> None:
    """`deploy.checkpoint: value` (None: null) in effect.yaml, every other byte as it was."""
    text = path.read_text(encoding="utf-8")
    doc = _yaml().load(text) or {}
    new = value or "null"
    lines = text.splitlines(keepends=True)
    deploy = doc.get("deploy")
    if deploy is not None and "checkpoint" in deploy:
        row, col = deploy.lc.value("checkpoint")
        rest = lines[row][col:]
        token = re.match(r"\"[^\"]*\"|'[^']*'|[^\s#]+", rest)
        end = token.end() if token else 0
        lines[row] = lines[row][:col] + new + rest[end:]
    elif deploy is not None:
        row, col = deploy.lc.line, deploy.lc.col
        lines.insert(row, " " * col + f"checkpoint: {new}\n")
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f"deploy:\n  checkpoint: {new}\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, path)
