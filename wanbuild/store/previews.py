"""The preview archive: every checkpoint preview wanbuild has seen, kept before its URL expires.

    .wanbuild/previews/blobs/<sha256>.<ext>     the previews, first frames and golden renders,
                                                content-addressed (the same bytes kept once)
    .wanbuild/previews/jobs/<job_id>.json       per job: each checkpoint's samples (prompt,
                                                preview, first frame) and what expired unkept

One index per job, so that effects archiving at once never write the same file; every write
replaces the file whole. `dvc add .wanbuild/previews/blobs` (docs/review.md) tracks them like the
media, so a pull request's reviewer sees the same pictures.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

GOLDEN = "live"  # the column of renders by the live deployment (`review --golden`)


class PreviewArchive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"

    @classmethod
    def of(cls, store_root: Path) -> PreviewArchive:
        return cls(store_root / "previews")

    def _index_path(self, job_id: str) -> Path:
        return self.root / "jobs" / f"{Path(job_id).name}.json"

    def job(self, job_id: str) -> dict[str, Any]:
        try:
            doc = json.loads(self._index_path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        doc.setdefault("job_id", job_id)
        doc.setdefault("checkpoints", {})
        return dict(doc)

    def _write(self, doc: dict[str, Any]) -> None:
        path = self._index_path(doc["job_id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def keep(self, data: bytes, ext: str) -> str:
        """Store bytes once; their blob's name (relative to the archive root)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.blobs / f"{sha}{ext}"
        if not path.exists():
            self.blobs.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return f"blobs/{path.name}"

    def sample(self, job_id: str, checkpoint: str, index: int) -> dict[str, Any] | None:
        found = self.job(job_id)["checkpoints"].get(checkpoint, {}).get("samples", {})
        entry = found.get(str(index))
        return dict(entry) if entry is not None else None

    def record(
        self, job_id: str, checkpoint: str, index: int, entry: dict[str, Any], **about: Any
    ) -> None:
        """`entry`: the sample's prompt, preview (a blob, or `expired`) and first frame."""
        doc = self.job(job_id)
        doc.update({k: v for k, v in about.items() if v is not None})
        ck = doc["checkpoints"].setdefault(checkpoint, {"samples": {}})
        ck["samples"][str(index)] = entry
        self._write(doc)

    def complete(self, job_id: str, checkpoint: str, count: int) -> None:
        doc = self.job(job_id)
        doc["checkpoints"].setdefault(checkpoint, {"samples": {}})["count"] = count
        self._write(doc)

    def is_complete(self, job_id: str, checkpoint: str) -> bool:
        ck = self.job(job_id)["checkpoints"].get(checkpoint)
        return bool(ck) and self._done(ck)

    def record_golden(self, job_id: str, deployed_model: str, index: int, blob: str) -> None:
        """What the live deployment rendered for validation sample `index`."""
        doc = self.job(job_id)
        doc.setdefault("golden", {}).setdefault(deployed_model, {})[str(index)] = blob
        self._write(doc)

    def settle(self, job_id: str) -> None:
        """Every checkpoint the finished job reported is kept or known lost: no more calls."""
        doc = self.job(job_id)
        if all(self._done(ck) for ck in doc["checkpoints"].values()):
            doc["settled"] = True
            self._write(doc)

    def settled(self, job_id: str) -> bool:
        return bool(self.job(job_id).get("settled"))

    @staticmethod
    def _done(ck: dict[str, Any]) -> bool:
        return "count" in ck and len(ck.get("samples", {})) >= int(ck["count"])

    def path(self, blob: str) -> Path:
        return self.root / blob
