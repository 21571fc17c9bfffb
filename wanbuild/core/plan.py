"""plan(desired, observed) -> EffectPlan. Pure: no I/O, no clock, no environment.

The ladder, per effect: dataset uploads -> training job -> checkpoint export (when pinned) ->
deployment -> retiring older deployments. Each rung is skipped when the remote already matches
(equal fingerprints), waited for when remote work is under way (never duplicated), reported and
not retried when the service failed it, and otherwise planned with the reason it is needed.

Identity is what wanbuild.lock records (ids returned by create calls), never a name the service
may or may not echo. A create whose reply was lost (pending) blocks a second create of its kind
until it is settled: the one candidate is adopted; several, or none for a job, stop the effect
with the commands that settle it; none for an upload or deployment (free to repeat) once the
service's lists must show it means it never happened, and it is made again.
"""

from __future__ import annotations

from typing import Any

from wanbuild.core.actions import Action, EffectPlan, Impact, Kind, Reason
from wanbuild.core.manifest import stack_differences
from wanbuild.spec.state import Desired, LockRecord, Observed, Pending

ACTIVE_JOB = frozenset({"PENDING", "QUEUING", "RUNNING", "CANCELING"})
ENDED_BADLY = frozenset({"FAILED", "CANCELED"})
ACTIVE_DEPLOYMENT = frozenset({"PENDING", "DEPLOYING", "UPDATING", "DELETING"})


_WHAT = {"upload": "upload", "create_job": "training job", "create_deployment": "deployment"}


def hp_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    parts = [
        f"{k} {old.get(k, '-')} -> {new.get(k, '-')}" for k in keys if old.get(k) != new.get(k)
    ]
    return ", ".join(parts)


def plan(desired: Desired, observed: Observed, *, retry_failed: bool = False) -> EffectPlan:
    e = desired.effect
    acts: list[Action] = []

    def add(
        kind: Kind,
        target: str,
        reason: Reason,
        detail: str = "",
        needs: tuple[str, ...] = (),
        estimate: str = "",
        **params: Any,
    ) -> Action:
        action = Action(e, kind, target, reason, detail, needs, estimate, params)
        acts.append(action)
        return action

    summary = f"{desired.kind} on {desired.model} in {desired.region}; {desired.steps_text}"
    lock = observed.lock

    def unrecorded(p: Pending, *, free: bool) -> Action | None:
        """The action that settles a pending create, or None when it is to be made again."""
        what = _WHAT[p.action]
        if len(p.candidates) == 1:
            return add(
                Kind.ADOPT,
                p.candidates[0],
                Reason.UNRECORDED,
                f"the {what} created at {p.at} by an apply that stopped before recording it",
                action=p.action,
                split=p.split,
            )
        if p.candidates:
            return add(
                Kind.BLOCKED,
                what,
                Reason.UNRECORDED,
                f"an apply stopped before recording its {what} ({p.at}); it could be any of "
                f"{', '.join(p.candidates)}: `wanbuild adopt {e} ID` with the right one",
            )
        if not p.settled:
            return add(
                Kind.WAIT,
                what,
                Reason.UNRECORDED,
                f"the {what} sent at {p.at} got no reply; waiting for the service to list it",
            )
        if free:
            return None
        return add(
            Kind.BLOCKED,
            what,
            Reason.UNRECORDED,
            f"the {what} sent at {p.at} got no reply and none has appeared; check the console: "
            f"`wanbuild adopt {e} JOB_ID` if it exists, otherwise "
            f"`wanbuild apply --forget-pending {e}`",
        )

    def pending_for(action: str, split: str | None = None) -> Pending | None:
        return next((p for p in observed.pending if p.action == action and p.split == split), None)

    # 0. a lost or reverted lock: nothing is made until the user says what is whose
    if observed.job is None and observed.lookalikes and not lock.job_id:
        add(
            Kind.BLOCKED,
            ", ".join(observed.lookalikes),
            Reason.UNRECORDED,
            _lost_lock(e, observed.lookalikes, observed.lookalike_uploads),
        )
        return _finish(e, acts, summary)

    # 1. dataset uploads (not needed once the job that trains on them is recorded)
    pending: list[str] = []  # ids of actions later rungs wait for
    trained = observed.job is not None and observed.job.status not in ENDED_BADLY
    for z in desired.zips:
        p = pending_for("upload", z.split)
        settling = unrecorded(p, free=True) if p is not None else None
        if settling is not None:
            if settling.kind is Kind.BLOCKED:
                return _finish(e, acts, summary)
            pending.append(settling.id)
            continue
        if z.split in observed.files:
            add(
                Kind.SKIP,
                z.upload_name,
                Reason.UNCHANGED,
                f"{z.split} uploaded as {observed.files[z.split].file_id}",
            )
            continue
        if trained and p is None:
            add(Kind.SKIP, z.upload_name, Reason.UNCHANGED, "not needed: the job is recorded")
            continue
        if lock.dataset_fp and lock.dataset_fp != desired.dataset_fp:
            reason, detail = (
                Reason.CHANGED,
                (
                    f"dataset {lock.dataset_fp[:12]} -> "
                    f"{desired.dataset_fp[:12]} ({_why_dataset(lock, desired)})"
                ),
            )
        else:
            reason, detail = Reason.ABSENT, f"dataset {desired.dataset_fp[:12]} not uploaded"
        if p is not None:
            detail = "the unanswered upload never appeared; uploading again"
        pending.append(
            add(
                Kind.UPLOAD,
                z.upload_name,
                reason,
                f"{detail}; {'needs build, ~' if not desired.built else ''}"
                f"{z.size / 1_048_576:.2f} MB",
                split=z.split,
            ).id
        )

    # 2. the training job
    job = observed.job
    estimate = _estimate(desired)
    p = pending_for("create_job")
    if p is not None:
        settling = unrecorded(p, free=False)
        assert settling is not None
        if settling.kind is not Kind.BLOCKED:
            add(Kind.DEPLOY, "deployment", Reason.UPSTREAM, "after the job", (settling.id,))
        return _finish(e, acts, summary)
    if job is not None and job.status in ENDED_BADLY and not retry_failed:
        add(
            Kind.BLOCKED,
            job.job_id,
            Reason.REMOTE_FAILED,
            f"job {job.job_id} {job.status}: {job.code or ''} {job.message or ''}".strip()
            + "; fix the cause, or apply --retry-failed to train again",
        )
        return _finish(e, acts, summary)
    if job is None or job.status in ENDED_BADLY:
        if pending:
            reason, detail = Reason.UPSTREAM, "a new dataset"
            changed = hp_changes(lock.job_hyper_parameters, desired.hyper_parameters)
            if lock.job_fp and changed:
                detail += f"; hyper_parameters: {changed}"
        elif job is not None:
            reason, detail = Reason.REMOTE_FAILED, f"retrying {job.status.lower()} job {job.job_id}"
        elif lock.job_fp and lock.job_fp != desired.job_fp:
            changed = hp_changes(lock.job_hyper_parameters, desired.hyper_parameters)
            reason = Reason.CHANGED
            detail = f"hyper_parameters: {changed}" if changed else "model or dataset changed"
        else:
            reason, detail = Reason.ABSENT, "no job for this dataset and these hyperparameters"
        train = add(
            Kind.TRAIN,
            desired.job_name,
            reason,
            f"{detail}; {desired.steps_text}",
            tuple(pending),
            estimate,
        )
        pending = [train.id]
    elif job.status in ACTIVE_JOB:
        step = f"step {job.step}/{desired.total_steps}" if job.step is not None else job.status
        pending = [add(Kind.WAIT, job.job_id, Reason.RUNNING, f"training {job.status}, {step}").id]
    else:
        back = f" (rollback to {observed.rollback}: no retrain)" if observed.rollback else ""
        add(Kind.SKIP, job.job_id, Reason.UNCHANGED, f"trained: {job.finetuned_output}{back}")

    # 3. the checkpoint to deploy
    model = job.finetuned_output if job is not None and job.status == "SUCCEEDED" else None
    if desired.checkpoint:
        ck = next((c for c in observed.checkpoints if c.name == desired.checkpoint), None)
        if pending or model is None:
            pending = [
                add(
                    Kind.EXPORT,
                    desired.checkpoint,
                    Reason.UPSTREAM,
                    "after training",
                    tuple(pending),
                ).id
            ]
            model = None
        elif ck is None:
            names = ", ".join(c.name for c in observed.checkpoints) or "none"
            add(
                Kind.BLOCKED,
                desired.checkpoint,
                Reason.REMOTE_FAILED,
                f"job has no {desired.checkpoint} (kept: {names}); pin another",
            )
            return _finish(e, acts, summary)
        elif ck.export_status in (None, "FAILED"):
            reason = Reason.ABSENT if ck.export_status is None else Reason.REMOTE_FAILED
            pending = [add(Kind.EXPORT, ck.name, reason, f"export {ck.name} of {model}").id]
            model = None
        elif ck.export_status != "SUCCEEDED":
            pending = [add(Kind.WAIT, ck.name, Reason.RUNNING, f"export {ck.export_status}").id]
            model = None
        else:
            add(Kind.SKIP, ck.name, Reason.UNCHANGED, f"exported as {ck.model_name}")
            model = ck.model_name

    # 4. the deployment
    if model is None or pending:
        target = "deployment"
        add(
            Kind.DEPLOY,
            target,
            Reason.UPSTREAM,
            "after the model is ready",
            tuple(pending),
            estimate=desired.deploy_estimate,
        )
        return _finish(e, acts, summary)
    p = pending_for("create_deployment")
    settling = unrecorded(p, free=True) if p is not None else None
    if settling is not None:
        return _finish(e, acts, summary)
    dep = observed.deployment
    name = dep.deployed_model if dep is not None else model
    deploy_id = f"{e}:{Kind.DEPLOY.value}:{name}"
    if dep is None:
        if observed.lookalikes and not lock.deployed_model:
            add(
                Kind.BLOCKED,
                ", ".join(observed.lookalikes),
                Reason.UNRECORDED,
                f"no wanbuild.lock records a deployment for this effect, but "
                f"{', '.join(observed.lookalikes)} serves {model} (a lost or reverted lock?): "
                f"`wanbuild adopt {e} NAME` to keep it, or undeploy it",
            )
            return _finish(e, acts, summary)
        if lock.deploy_fp == desired.deploy_fp and lock.deployed_model:
            reason = Reason.DRIFTED
            detail = f"{lock.deployed_model} was deleted out of band; redeploying"
        elif lock.deploy_fp and lock.deploy_fp != desired.deploy_fp:
            reason, detail = Reason.CHANGED, "aigc_config, checkpoint or model changed"
            if observed.rollback:
                detail = f"rollback to the model trained for {observed.rollback}"
        else:
            reason, detail = Reason.ABSENT, "not deployed"
        if p is not None:
            detail = "the unanswered deployment never appeared; deploying again"
        add(Kind.DEPLOY, name, reason, detail, estimate=desired.deploy_estimate, model_name=model)
        deploy_done = False
    elif dep.status == "RUNNING":
        # capacity is not compared: for plan=lora it is "invalid but must be filled"
        add(Kind.SKIP, name, Reason.UNCHANGED, "deployed and running")
        deploy_done = True
    elif dep.status in ACTIVE_DEPLOYMENT:
        add(Kind.WAIT, name, Reason.RUNNING, f"deployment {dep.status}")
        deploy_done = False
    else:
        add(
            Kind.BLOCKED,
            name,
            Reason.REMOTE_FAILED,
            f"deployment {dep.status}; `wanbuild destroy {e}` and apply again to retry",
        )
        return _finish(e, acts, summary)

    # 5. older deployments of this effect: retired once the new one runs (blue/green)
    for old in observed.others:
        if old.status == "DELETING":
            continue
        needs = () if deploy_done else (deploy_id,)
        add(Kind.UNDEPLOY, old.deployed_model, Reason.CHANGED, f"replaced by {name}", needs)
    return _finish(e, acts, summary, observed.rollback)


def _estimate(d: Desired) -> str:
    parts = [f"{d.total_steps} steps"]
    if d.tokens_estimate:
        parts.append(f"~{d.tokens_estimate:,} tokens")
    if d.cost_estimate_cny:
        parts.append(f"~{d.cost_estimate_cny:,.0f} CNY")
    if d.hours_estimate:
        parts.append(f"~{d.hours_estimate:.1f} h")
    return ", ".join(parts)


def _finish(
    effect: str, acts: list[Action], summary: str, rollback: str | None = None
) -> EffectPlan:
    kinds = {a.kind for a in acts if a.reason is not Reason.UPSTREAM}
    if Kind.BLOCKED in kinds:
        impact = Impact.BLOCKED
    elif Kind.UPLOAD in kinds:
        impact = Impact.FULL
    elif Kind.TRAIN in kinds:
        impact = Impact.RETRAIN
    elif Kind.EXPORT in kinds:
        impact = Impact.ROLLBACK if rollback else Impact.EXPORT
    elif kinds & {Kind.DEPLOY, Kind.UNDEPLOY, Kind.ADOPT}:
        impact = Impact.ROLLBACK if rollback else Impact.REDEPLOY
    elif Kind.WAIT in kinds:
        impact = Impact.WAIT
    else:
        impact = Impact.NONE
    return EffectPlan(effect, impact, tuple(acts), summary)


def _lost_lock(effect: str, found: tuple[str, ...], uploads: tuple[str, ...]) -> str:
    """What a lost or reverted lock left on the service, by kind, and what settles it."""
    jobs = [i for i in found if i not in uploads]

    def some(ids: list[str] | tuple[str, ...], one: str) -> str:
        return f"{len(ids)} {one}{'s' if len(ids) != 1 else ''} ({', '.join(ids)})"

    held = " and ".join(
        [
            *([some(jobs, "training job")] if jobs else []),
            *([some(uploads, "upload")] if uploads else []),
        ]
    )
    settle = (
        f"`wanbuild adopt {effect} JOB_ID` for the job that is this effect's"
        if jobs
        else f"`wanbuild adopt {effect} JOB_ID` for a job trained on them (the service may "
        "not echo names: look in the console), or, if none was made, "
        f"`wanbuild adopt {effect} FILE_ID` for each upload (or delete them: uploads are free "
        "to make again)"
    )
    return (
        f"no wanbuild.lock records a job for this effect, but the service holds {held} named "
        "like its and claimed by no lock: a lost or reverted wanbuild.lock, or another "
        "machine's apply whose records never reached this checkout. Restore the lock (`git "
        "checkout -- wanbuild.lock`; on a shared project, run with its git remote reachable "
        f"so the shared state is pulled), or {settle}; nothing is trained until then"
    )


def _why_dataset(lock: LockRecord, desired: Desired) -> str:
    """What moves a dataset's fingerprint: its captions or media, or the libraries that fit
    the media, when the recorded dataset was fitted by other releases than this one."""
    moved = stack_differences(
        desired.built_with or {}, lock.dataset_built_with or {}, ("here", "for the recorded one")
    )
    if not (desired.built_with and lock.dataset_built_with and moved):
        return "captions or media"
    return f"captions or media, or the libraries that fit them: {'; '.join(moved[:3])}"
