"""What a plan is made of: actions, each with a kind, a reason and what it waits for."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    UPLOAD = "upload"
    TRAIN = "train"
    WAIT = "wait"
    EXPORT = "export"
    DEPLOY = "deploy"
    UNDEPLOY = "undeploy"
    ADOPT = "adopt"
    SKIP = "skip"
    BLOCKED = "blocked"


class Reason(StrEnum):
    ABSENT = "absent"  # nothing remote yet
    CHANGED = "changed"  # the remote object differs from what the effect asks for
    UPSTREAM = "upstream changed"  # depends on another action of this plan
    UNCHANGED = "unchanged"
    RUNNING = "in progress"  # remote work under way: waited for, never duplicated
    REMOTE_FAILED = "remote failed"  # reported with the service's message, not retried blindly
    DRIFTED = "drifted"  # changed or deleted out of band
    UNRECORDED = "unrecorded create"  # a create whose id never reached wanbuild.lock


class Impact(StrEnum):
    NONE = "no changes"
    WAIT = "waiting for remote work"
    REDEPLOY = "redeploy only"
    ROLLBACK = "rollback to an already-trained model (no retrain)"
    EXPORT = "export checkpoint + redeploy"
    RETRAIN = "retrain on the existing upload"
    FULL = "rebuild + upload + retrain"
    BLOCKED = "blocked"


# Kinds that change something remotely (and so make `plan` exit 2).
# ADOPT changes no remote object but records one in wanbuild.lock.
CHANGES = frozenset({Kind.UPLOAD, Kind.TRAIN, Kind.EXPORT, Kind.DEPLOY, Kind.UNDEPLOY, Kind.ADOPT})


@dataclass(frozen=True)
class Action:
    effect: str
    kind: Kind
    target: str
    reason: Reason
    detail: str = ""
    needs: tuple[str, ...] = ()
    estimate: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.effect}:{self.kind.value}:{self.target}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "effect": self.effect,
            "kind": self.kind.value,
            "target": self.target,
            "reason": self.reason.value,
            "detail": self.detail,
            "needs": list(self.needs),
            "estimate": self.estimate,
        }


@dataclass(frozen=True)
class EffectPlan:
    effect: str
    impact: Impact
    actions: tuple[Action, ...]
    summary: str = ""  # kind, model, region, steps

    @property
    def changes(self) -> bool:
        return any(a.kind in CHANGES for a in self.actions)
