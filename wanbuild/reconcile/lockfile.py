"""effects/<name>/wanbuild.lock: the lineage of what apply created, committed like any file.

Per target (backend/region): dataset fingerprint and uploaded file ids, the job (id, model,
hyperparameters, status, usage), the exported checkpoint, the deployment (name, aigc_config
hash), the git commit applied, and intents: written before every create call and cleared when
its id is recorded, so an apply killed in between is resolved by the next one. Every write is
atomic (temporary file, fsync, rename). The API key is never part of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wanbuild.core.fingerprint import digest
from wanbuild.spec.state import Desired, DesiredZip, LockRecord

LOCK_NAME = "wanbuild.lock"
FORMAT = 1


class LockFile:
    def __init__(self, effect_dir: Path, effect: str, target: str) -> None:
        self.path = effect_dir / LOCK_NAME
        self.effect, self.target = effect, target

    def read_all(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": FORMAT, "effect": self.effect, "targets": {}}
        except ValueError:
            raise ValueError(f"{self.path}: not valid JSON; restore it from git") from None
        doc.setdefault("targets", {})
        return dict(doc)

    def entry(self) -> dict[str, Any]:
        return dict(self.read_all()["targets"].get(self.target, {}))

    def update(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into this target's entry (None deletes a key) and write atomically."""
        doc = self.read_all()
        entry = dict(doc["targets"].get(self.target, {}))
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        doc["targets"][self.target] = entry
        doc["format"], doc["effect"] = FORMAT, self.effect
        self._write(doc)
        return entry

    def add_intent(self, intent: dict[str, Any]) -> None:
        intents = [i for i in self.entry().get("intents", []) if i.get("key") != intent["key"]]
        self.update(intents=[*intents, intent])

    def clear_intent(self, key: str) -> None:
        self.update(intents=self._without(self.entry(), key) or None)

    def settle(self, key: str | None, claim: tuple[str, str] | None, **changes: Any) -> None:
        """In one atomic write: record `changes`, claim (kind, id) for this effect, and drop
        the intent `key`, so that no crash leaves an id recorded but its intent open."""
        entry = self.entry()
        if claim is not None:
            kind, rid = claim
            claims = {k: list(v) for k, v in (entry.get("claims") or {}).items()}
            if rid not in claims.setdefault(kind, []):
                claims[kind].append(rid)
            changes["claims"] = claims
        if key is not None:
            changes["intents"] = self._without(entry, key) or None
        self.update(**changes)

    @staticmethod
    def _without(entry: dict[str, Any], key: str) -> list[dict[str, Any]]:
        return [i for i in entry.get("intents", []) if i.get("key") != key]

    def record(self) -> LockRecord:
        e = self.entry()
        job = e.get("job") or {}
        dep = e.get("deployment") or {}
        return LockRecord(
            dataset_fp=(e.get("dataset") or {}).get("fingerprint"),
            job_fp=job.get("fingerprint"),
            job_id=job.get("job_id"),
            job_hyper_parameters=job.get("hyper_parameters") or {},
            deploy_fp=dep.get("fingerprint"),
            deployed_model=dep.get("deployed_model"),
            attempt=int(job.get("attempt") or 1),
            intents=tuple(e.get("intents") or ()),
        )

    def _write(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


# The shapes of the lineage records, written both right after a create (execute) and after
# every observation (loop), so that the two never disagree.


def file_entry(z: DesiredZip, file_id: str) -> dict[str, Any]:
    return {"file_id": file_id, "name": z.upload_name, "sha256": z.sha256, "size": z.size}


def job_entry(
    d: Desired,
    *,
    job_id: str,
    job_name: str,
    finetuned_output: str | None,
    status: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "fingerprint": d.job_fp,
        "job_id": job_id,
        "job_name": job_name,
        "model": d.model,
        "finetuned_output": finetuned_output,
        "hyper_parameters": d.hyper_parameters,
        "status": status,
        **extra,
    }


def deployment_entry(
    d: Desired, *, deployed_model: str, model_name: str, capacity: int | None, **extra: Any
) -> dict[str, Any]:
    return {
        "fingerprint": d.deploy_fp,
        "deployed_model": deployed_model,
        "model_name": model_name,
        "checkpoint": d.checkpoint,
        "capacity": capacity,
        "aigc_sha256": digest(d.aigc_config) if d.aigc_config else None,
        **extra,
    }
