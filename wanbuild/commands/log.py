"""`wanbuild log [EFFECT...]`: what was live when, from the history in wanbuild.lock.

Reads the lock alone (and the project's mirror of it): no media, no build, no remote call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from wanbuild.errors import EXIT_OK
from wanbuild.reconcile.lockfile import LockFile


def log_command(effect_dirs: list[Path], out: TextIO) -> int:
    for d in effect_dirs:
        doc = LockFile(d, d.resolve().name, "").read_all()
        targets = doc.get("targets") or {}
        if not any(e.get("history") for e in targets.values()):
            print(f"{d.resolve().name}: never applied", file=out)
            continue
        for target, entry in sorted(targets.items()):
            print(f"{d.resolve().name} ({target})", file=out)
            live = (entry.get("deployment") or {}).get("deployed_model")
            for h in reversed(entry.get("history") or []):
                print(_line(h, live), file=out)
    return EXIT_OK


def _line(h: dict[str, Any], live: str | None) -> str:
    commit = str(h["commit"])[:12] if h.get("commit") else "(uncommitted)"
    model = h.get("exported_model") or h.get("finetuned_output") or "?"
    mark = "  <- live" if live and h.get("deployed_model") == live else ""
    return (
        f"  {h.get('applied_at')}  {commit:<13} dataset {str(h.get('dataset'))[:12]}  "
        f"job {h.get('job_id')}  model {model}  deployed {h.get('deployed_model')}{mark}"
    )
