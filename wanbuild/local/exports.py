"""Exported models of local jobs: a checkpoint's LoRA files under the name deployments use.

exports/<model_name>/<expert>.safetensors   as the checkpoint holds them
exports/<model_name>/export.json            job, checkpoint, experts (written last)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from wanbuild.local.jobspec import JobSpec
from wanbuild.local.jobstate import last_checkpoint, read_json, write_json

EXPORT = "export.json"


def exports_root(job_dir: Path) -> Path:
    return job_dir.parent.parent / "exports"


def export_checkpoint(job_dir: Path, checkpoint: Path, model_name: str) -> Path:
    manifest = json.loads((checkpoint / "manifest.json").read_text(encoding="utf-8"))
    out = exports_root(job_dir) / model_name
    if (out / EXPORT).exists():
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in manifest["files"]:
        _link_or_copy(checkpoint / name, tmp / name)
    doc = {
        "model_name": model_name,
        "job_id": job_dir.name,
        "checkpoint": manifest["checkpoint"],
        "experts": manifest["experts"],
        "files": manifest["files"],
    }
    write_json(tmp / EXPORT, doc)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def export_final(job_dir: Path, spec: JobSpec) -> Path:
    last = last_checkpoint(job_dir / "checkpoints")
    if last is None:
        raise RuntimeError("training ended without a checkpoint")
    return export_checkpoint(job_dir, last[0], spec.job_name)


def read_export(root: Path, model_name: str) -> dict[str, Any] | None:
    return read_json(root / model_name / EXPORT)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
