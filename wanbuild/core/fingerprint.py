"""Fingerprints and the names derived from them. Pure.

    job        = model + training type + kind + dataset fingerprint + resolved hyperparameters
    deployment = job + checkpoint pin + aigc_config + plan (+ capacity, which is scaled in place)
Names carry fingerprints for people reading the console and for noticing a lost lock; they
are never identity: the ids create calls return, recorded in wanbuild.lock, are.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def slug(effect: str) -> str:
    """A name fragment the service accepts everywhere: lower-case letters, digits, '-'."""
    return re.sub(r"[^a-z0-9]+", "-", effect.lower()).strip("-") or "effect"


def job_fingerprint(
    *, model: str, training_type: str, kind: str, dataset_fp: str, hyper_parameters: dict[str, Any]
) -> str:
    return digest(
        {
            "model": model,
            "training_type": training_type,
            "kind": kind,
            "dataset": dataset_fp,
            "hyper_parameters": hyper_parameters,
        }
    )


def job_name(effect: str, job_fp: str, attempt: int = 1) -> str:
    base = f"wb-{slug(effect)}-{job_fp[:12]}"
    return base if attempt <= 1 else f"{base}-r{attempt}"


def upload_name(effect: str, split: str, dataset_fp: str) -> str:
    return f"wb-{slug(effect)}-{split}-{dataset_fp[:16]}.zip"


def upload_description(effect: str, split: str, dataset_fp: str) -> str:
    return f"wanbuild effect={effect} split={split} dataset={dataset_fp}"


def deploy_fingerprint(
    *, job_fp: str, checkpoint: str | None, aigc_config: dict[str, Any] | None, plan: str = "lora"
) -> str:
    return digest(
        {"job": job_fp, "checkpoint": checkpoint, "aigc_config": aigc_config, "plan": plan}
    )
