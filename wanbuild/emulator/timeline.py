"""How emulated jobs, exports, deployments and tasks move through their states, as a pure
function of their creation record and the simulated time. Nothing runs in the background:
an object's state is computed whenever it is read.

Durations are simulated seconds (scaled by the emulator's time scale):
  job:        PENDING (data processing) 60 s, then RUNNING at SECONDS_PER_STEP per step
  cancel:     CANCELING 10 s, then CANCELED
  export:     PENDING 30 s, PROCESSING 150 s, then SUCCEEDED
  deployment: PENDING 300 s (the guides: 5-10 minutes), UPDATING 60 s, DELETING 60 s
  task:       PENDING 5 s, RUNNING 60 s
"""

from __future__ import annotations

import datetime
import hashlib
import math
from typing import Any

PENDING_S = 60.0
CANCEL_S = 10.0
EXPORT_PENDING_S = 30.0
EXPORT_S = 180.0
DEPLOY_S = 300.0
UPDATE_S = 60.0
DELETE_S = 60.0
TASK_PENDING_S = 5.0
TASK_S = 65.0
# Image: the guide's 2K reference, 300 steps in ~77 min (t2i) and ~110 min (i2i).
# Video: no reference is documented; 6 s per step makes a 2000-step job take ~3.3 hours.
SECONDS_PER_STEP = {"i2v": 6.0, "kf2v": 6.0, "t2i": 15.4, "i2i": 22.0}


def stamp(t: float) -> str:
    """The service's job timestamp form: "2025-11-11 11:22:22"."""
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(t: float) -> str:
    """The deployment/checkpoint timestamp form: ISO without a zone, with millis."""
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def step_time(job: dict[str, Any], step: int) -> float:
    return float(job["created"]) + PENDING_S + step * float(job["seconds_per_step"])


def job_state(job: dict[str, Any], now: float) -> dict[str, Any]:
    """status, step, end (sim time) and failure of a job at `now`."""
    created = float(job["created"])
    total = int(job["total_steps"])
    sps = float(job["seconds_per_step"])
    cancel_at = job.get("cancel_at")
    if job.get("failure"):
        end = created + PENDING_S
        if now < end and not (cancel_at and cancel_at <= now):
            return {"status": "PENDING", "step": 0, "end": None}
        if not (cancel_at and cancel_at < end):
            return {
                "status": "FAILED",
                "step": 0,
                "end": end,
                "message": job["failure"],
                "code": "InvalidParameter",
            }
    fail_step = job.get("fail_at_step")
    fail_at = step_time(job, fail_step) if fail_step is not None and fail_step < total else None
    if cancel_at is not None and cancel_at <= now and (fail_at is None or cancel_at < fail_at):
        step = _steps_at(job, cancel_at)
        done = cancel_at + CANCEL_S
        if now < done:
            return {"status": "CANCELING", "step": step, "end": None}
        return {
            "status": "CANCELED",
            "step": step,
            "end": done,
            "code": "1",
            "message": "The fine-tune job was canceled by the user.",
        }
    if now < created + PENDING_S:
        return {"status": "PENDING", "step": 0, "end": None}
    if fail_at is not None and now >= fail_at:
        return {
            "status": "FAILED",
            "step": fail_step,
            "end": fail_at,
            "code": "InternalError.Algo",
            "message": f"Training failed at step {fail_step}: the training process exited "
            "unexpectedly (emulated fault).",
        }
    step = min(total, math.floor((now - created - PENDING_S) / sps))
    if step < total:
        return {"status": "RUNNING", "step": step, "end": None}
    return {"status": "SUCCEEDED", "step": total, "end": step_time(job, total)}


def _steps_at(job: dict[str, Any], t: float) -> int:
    e = t - float(job["created"]) - PENDING_S
    return max(0, min(int(job["total_steps"]), math.floor(e / float(job["seconds_per_step"]))))


def usage(job: dict[str, Any], steps: int) -> int:
    return int(steps * int(job["tokens_per_step"]))


def checkpoints_reached(job: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The checkpoints saved by `now` and still kept (save_total_limit), oldest first."""
    state = job_state(job, now)
    done_steps = state["step"]
    reached = [
        c
        for c in job["checkpoints"]
        if c["step"] <= done_steps and state["status"] not in ("PENDING",)
    ]
    keep = int(job.get("save_total_limit") or 0)
    return reached[-keep:] if keep else reached


def export_state(export: dict[str, Any], now: float) -> str:
    e = now - float(export["requested"])
    if e < EXPORT_PENDING_S:
        return "PENDING"
    return "PROCESSING" if e < EXPORT_S else "SUCCEEDED"


def deployment_state(dep: dict[str, Any], now: float) -> str:
    if dep.get("delete_at") is not None:
        return "DELETING" if now < dep["delete_at"] + DELETE_S else "DELETED"
    if now < float(dep["created"]) + DEPLOY_S:
        return "PENDING"
    if dep.get("fail"):
        return "FAILED"
    if dep.get("scale_at") is not None and now < dep["scale_at"] + UPDATE_S:
        return "UPDATING"
    return "RUNNING"


def task_state(task: dict[str, Any], now: float) -> str:
    e = now - float(task["created"])
    if e < TASK_PENDING_S:
        return "PENDING"
    return "RUNNING" if e < TASK_S else "SUCCEEDED"


def loss(job_id: str, step: int, total: int) -> float:
    """A plausible, deterministic training loss: decaying with a little seeded noise."""
    noise = int(hashlib.sha256(f"{job_id}:{step}".encode()).hexdigest()[:6], 16) / 0xFFFFFF
    return 0.12 + 0.35 * math.exp(-4.0 * step / max(total, 1)) + 0.02 * (noise - 0.5)


def logs(job: dict[str, Any], now: float) -> list[str]:
    """The job's log lines up to `now`, in the service's style."""
    state = job_state(job, now)
    created = float(job["created"])
    out = [
        f"{stamp(created)},000 - INFO - job {job['job_id']} created, "
        f"model {job['model']}, {job['n_train']} training samples"
    ]
    if state["status"] == "PENDING":
        return out
    if job.get("failure"):
        if state["status"] == "FAILED":
            out.append(
                f"{stamp(created + PENDING_S)},000 - ERROR - data process failed: {job['failure']}"
            )
        return out
    out.append(
        f"{stamp(created + PENDING_S)},000 - INFO - data process succeeded, start to fine-tune"
    )
    total = int(job["total_steps"])
    marks = sorted(
        {max(1, round(total * k / 10)) for k in range(1, 11)}
        | {c["step"] for c in job["checkpoints"]}
    )
    names = {c["step"]: c["checkpoint"] for c in job["checkpoints"]}
    for s in marks:
        if s > state["step"]:
            break
        t = stamp(step_time(job, s))
        out.append(f"{t},000 - INFO - step {s}/{total} - loss {loss(job['job_id'], s, total):.4f}")
        if s in names:
            out.append(f"{t},000 - INFO - saved {names[s]}")
    if state["status"] == "FAILED":
        out.append(f"{stamp(state['end'])},000 - ERROR - {state['message']}")
    if state["status"] in ("SUCCEEDED", "CANCELED"):
        out.append(f" Actual number of consumed tokens is {usage(job, state['step'])} !")
    if state["status"] == "SUCCEEDED":
        out.append(f"{stamp(state['end'])},000 - INFO - ##FT_COMPLETE##")
    return out
