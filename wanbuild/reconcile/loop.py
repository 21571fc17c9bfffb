"""Converge one effect: observe -> plan -> act, again and again, until nothing is left that can
be done now (apply) or until the effect matches (apply --wait).

Level-triggered: every pass starts from a fresh observation, so a run that died anywhere, a
second apply, or a job that finished overnight all come down to the same question, what does
the remote hold now. Temporary errors are retried with backoff; a permanent one ends the
effect with the service's message; the actions that needed it are not attempted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wanbuild.core.actions import CHANGES, Action, EffectPlan, Kind, Reason
from wanbuild.core.plan import plan
from wanbuild.reconcile import crash
from wanbuild.reconcile.claims import Claims
from wanbuild.reconcile.execute import Executor
from wanbuild.reconcile.index import RemoteIndex
from wanbuild.reconcile.lease import Gate
from wanbuild.reconcile.lockfile import (
    LockFile,
    dataset_entry,
    deployment_entry,
    extend_history,
    file_entry,
    job_entry,
)
from wanbuild.reconcile.observe import api_of, observe
from wanbuild.reconcile.watch import Watch
from wanbuild.remote.errors import PermanentRemoteError, TemporaryRemoteError
from wanbuild.remote.service import Service
from wanbuild.spec.state import Desired, Observed

State = Literal["converged", "in progress", "failed", "interrupted"]
MAX_TEMPORARY = 8


@dataclass
class Outcome:
    effect: str
    state: State
    message: str
    plan: EffectPlan | None = None
    observed: Observed | None = None


@dataclass
class Hooks:
    say: Callable[[str], None]
    progress: Callable[[Desired, EffectPlan, Observed], None]
    stop: threading.Event
    steps_every: float | None = None  # how often to read a running job's step (None: never)


def converge(
    client: Service,
    desired: Desired,
    effect_dir: Path,
    *,
    wait: bool,
    retry_failed: bool,
    poll: float,
    hooks: Hooks,
    commit: str | None,
    claims: Callable[[], Claims],
    watch: Watch | None = None,
    uploads: threading.Semaphore | None = None,
    recent_claims: Callable[[], Claims] | None = None,
    gate: Gate | None = None,
) -> Outcome:
    """`gate`: the effect's lease (reconcile.lease), taken before the first pass that
    changes anything, the pass observed again when the shared state it pulls moved the lock,
    every write of the lock published under it; `watch`: the run's shared listing, which
    waiting passes observe from (else every pass looks by id); `uploads`: bounds the uploads
    in flight across effects; `recent_claims`: the run's shared, recent view of other
    effects' claims, for what a create records as already there and for lookalikes
    (claims.RecentClaims)."""
    lock = LockFile(
        effect_dir, desired.effect, desired.target, publish=gate.publish if gate else None
    )
    fresh = (lambda: watch.fresh(hooks.stop)) if watch is not None else None
    executor = Executor(client, desired, lock, hooks.say, claims, uploads, fresh, recent_claims)
    temporary = 0
    retry = retry_failed
    listing: RemoteIndex | None = None  # after a pass that only waited: the shared listing
    seen: tuple[object, ...] | None = None  # this effect's objects in the last listing used
    steps_at = float("-inf")
    while True:
        began = time.monotonic()
        steps = hooks.steps_every is not None and began - steps_at >= hooks.steps_every
        steps_at = began if steps else steps_at
        index, listing = listing, None  # a listing serves one pass: the one after a wait
        try:
            observed = observe(
                client,
                desired,
                lock,
                claims,
                index=index,
                steps=steps,
                fresh=fresh,
                recent=recent_claims,
            )
        except TemporaryRemoteError as e:
            temporary += 1
            if temporary > MAX_TEMPORARY:
                return Outcome(desired.effect, "failed", f"the service keeps failing: {e}")
            if _pause(hooks, min(poll * 2**temporary, 30)):
                return Outcome(desired.effect, "interrupted", "stopped waiting")
            continue
        current = plan(desired, observed, retry_failed=retry)
        record_lineage(lock, desired, observed, commit)
        hooks.progress(desired, current, observed)
        # A plan blocked on objects no lock records may be another machine's apply whose
        # records this checkout pulled too early (it finished while this one was planning):
        # the lease pulls the shared state again before that is concluded.
        blocked = [a for a in current.actions if a.kind is Kind.BLOCKED]
        if gate is not None and (current.changes or blocked):
            moved = gate.enter(hooks.stop)
            if moved is None:
                return Outcome(desired.effect, "interrupted", "stopped waiting", current, observed)
            if moved:
                continue  # another machine applied since: plan from what it recorded
        done: set[str] = set()
        acted = False
        action: Action | None = None
        try:
            for action in current.actions:
                if not _runnable(action, done):
                    continue
                executor.run(action, observed)
                done.add(action.id)
                acted = True
                if action.kind is Kind.TRAIN:
                    retry = False
        except TemporaryRemoteError as e:
            temporary += 1
            if temporary > MAX_TEMPORARY:
                return Outcome(
                    desired.effect, "failed", f"the service keeps failing: {e}", current, observed
                )
            hooks.say(f"temporary error, will look again: {e}")
            if _pause(hooks, min(poll * 2**temporary, 30)):
                return Outcome(desired.effect, "interrupted", "stopped waiting", current, observed)
            continue
        except PermanentRemoteError as e:
            skipped = _dependents(current, action.id) if action is not None else []
            note = f"; not attempted, as they need it: {', '.join(skipped)}" if skipped else ""
            return Outcome(desired.effect, "failed", f"{e}{note}", current, observed)
        temporary = 0  # a whole pass went through: count failures afresh
        if acted:
            seen = None
            continue
        if blocked:
            return Outcome(desired.effect, "failed", blocked[0].detail, current, observed)
        if all(a.kind is Kind.SKIP for a in current.actions):
            record_lineage(lock, desired, observed, commit, applied=True)
            return Outcome(desired.effect, "converged", _live(observed), current, observed)
        waiting = next((a for a in current.actions if a.kind is Kind.WAIT), None)
        if not wait:
            what = waiting.detail if waiting else "waiting for remote work"
            return Outcome(desired.effect, "in progress", what, current, observed)
        crash.point("waiting")
        if watch is None:
            if _pause(hooks, poll):
                return Outcome(desired.effect, "interrupted", "stopped waiting", current, observed)
            continue
        try:
            listing, seen = _next_listing(watch, began, hooks, desired, observed, seen)
        except TemporaryRemoteError:
            listing, seen = None, None  # look again by id
        if listing is None and hooks.stop.is_set():
            return Outcome(desired.effect, "interrupted", "stopped waiting", current, observed)


def _next_listing(
    watch: Watch,
    since: float,
    hooks: Hooks,
    desired: Desired,
    observed: Observed,
    seen: tuple[object, ...] | None,
) -> tuple[RemoteIndex | None, tuple[object, ...] | None]:
    """The next shared listing worth a look: one where any of this effect's objects differs
    from the listing it last looked at. Hundreds of effects wait on one listing; most of them,
    most of the time, find nothing changed, and go on waiting without observing or planning.
    What a listing cannot show (an export's progress, a create whose reply was lost, a job's
    step for the progress bars) is always looked at."""
    watched = _watched(desired, observed)
    while True:
        listing = watch.after(since, hooks.stop)
        if listing is None or watched is None or hooks.steps_every is not None:
            return listing, None
        now = listing.listed(*watched, api_of(desired))
        if now is None or now != seen:
            return listing, now
        since = watch.clock()


def _watched(desired: Desired, observed: Observed) -> tuple[list[str], list[str], list[str]] | None:
    """(job ids, deployment names, file ids) whose listing says all there is to know of the
    effect; None when something else matters."""
    if observed.pending or observed.job is None:
        return None
    if desired.checkpoint and observed.job.status == "SUCCEEDED":
        return None  # the export's progress is in the job's checkpoints, not in a listing
    deployments = [d.deployed_model for d in (observed.deployment, *observed.others) if d]
    return [observed.job.job_id], deployments, [f.file_id for f in observed.files.values()]


def _dependents(current: EffectPlan, failed: str) -> list[str]:
    """The actions that need `failed`, directly or through others."""
    blocked = {failed}
    out = []
    for a in current.actions:
        if any(n in blocked for n in a.needs):
            blocked.add(a.id)
            out.append(f"{a.kind.value} {a.target}")
    return out


def _runnable(action: Action, done: set[str]) -> bool:
    """Can this action run now? Its prerequisites must have run in this pass, and an export or
    deployment still waiting for a model (reason upstream) only becomes concrete in a later
    pass, once the remote has the model."""
    if action.kind not in CHANGES or not all(n in done for n in action.needs):
        return False
    return not (action.reason is Reason.UPSTREAM and action.kind in (Kind.EXPORT, Kind.DEPLOY))


def _pause(hooks: Hooks, seconds: float) -> bool:
    """Sleep; True when asked to stop (Ctrl-C)."""
    return hooks.stop.wait(seconds)


def _live(observed: Observed) -> str:
    if observed.deployment is not None:
        return f"live as {observed.deployment.deployed_model}"
    return "matches the remote"


def record_lineage(
    lock: LockFile,
    desired: Desired,
    observed: Observed,
    commit: str | None,
    *,
    applied: bool = False,
) -> None:
    """Write what the remote holds for this effect into wanbuild.lock (only when it changed)."""
    before = lock.entry()
    changes: dict[str, Any] = {}
    if observed.files and len(observed.files) == len(desired.zips):
        files = {z.split: file_entry(z, observed.files[z.split].file_id) for z in desired.zips}
        changes["dataset"] = dataset_entry(desired, files, before.get("dataset"))
    job = observed.job
    if job is not None:
        changes["job"] = {
            # keeps attempt and created from the create call
            **(bj if (bj := before.get("job") or {}).get("job_id") == job.job_id else {}),
            **job_entry(
                desired,
                job_id=job.job_id,
                job_name=job.job_name,
                finetuned_output=job.finetuned_output,
                status=job.status,
                usage=job.usage,
            ),
        }
    if desired.checkpoint:
        ck = next((c for c in observed.checkpoints if c.name == desired.checkpoint), None)
        if ck is not None and ck.model_name:
            changes["checkpoint"] = {"name": ck.name, "exported_model": ck.model_name}
    dep = observed.deployment
    retiring = before.get("retiring") or []
    if dep is not None and dep.deployed_model in retiring:  # a rollback kept it: not retired
        changes["retiring"] = [r for r in retiring if r != dep.deployed_model] or None
    if dep is not None:
        if (before.get("deployment") or {}).get("deployed_model") not in (
            None,
            dep.deployed_model,
        ):  # the deployment it replaces goes on being retired
            kept = changes.get("retiring") or retiring
            replaced = before["deployment"]["deployed_model"]
            changes["retiring"] = [*kept, *([replaced] if replaced not in kept else [])]
        changes["deployment"] = deployment_entry(
            desired,
            deployed_model=dep.deployed_model,
            model_name=dep.model_name,
            capacity=dep.capacity,
            status=dep.status,
        )
    if applied:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        changes["applied"] = {"commit": commit, "at": at}
        history = extend_history(
            before.get("history") or [], {**before, **changes}, desired, commit, at
        )
        if history is not None:
            changes["history"] = history
        if (
            before.get("applied")
            and before["applied"].get("commit") == commit
            and all(before.get(k) == v for k, v in changes.items() if k != "applied")
        ):
            return
    if any(before.get(k) != v for k, v in changes.items()):
        lock.update(**changes)
