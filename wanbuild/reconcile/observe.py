"""Read the remote for one effect: what its wanbuild.lock records, looked up by id.

The ids that create calls returned are the identity of remote objects; names wanbuild sends
(file names, job_name, model_name, suffix) are hints the service may ignore, so nothing is
recognised by a name. Two things need a listing: a create whose reply never reached the lock
(pending: its candidates are the objects no lock claims that appeared since, and that nothing
the service echoes contradicts), and a lock that records nothing while the service holds
objects named like this effect's (lookalikes, reported and never adopted on a name alone).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from wanbuild.reconcile.claims import Claims, claimed_ids
from wanbuild.reconcile.index import RemoteIndex, fetch
from wanbuild.reconcile.lockfile import LockFile, find_history
from wanbuild.remote.models import Deployment, FineTuneJob
from wanbuild.remote.service import Service
from wanbuild.spec.state import (
    Desired,
    Observed,
    ObservedCheckpoint,
    ObservedDeployment,
    ObservedFile,
    ObservedJob,
    Pending,
    TargetSpec,
)

_STEP = re.compile(r"step (\d+)/(\d+)")
T = TypeVar("T")
Api = Literal["native", "compatible"]


def api_of(spec: Desired | TargetSpec) -> Api:
    return "native" if spec.upload_api == "native" else "compatible"


def observe(
    client: Service,
    spec: Desired | TargetSpec,
    lock: LockFile,
    claims: Callable[[], Claims],
    *,
    now: Callable[[], float] = time.time,
    index: RemoteIndex | None = None,
    steps: bool = True,
    fresh: Callable[[], RemoteIndex] | None = None,
    recent: Callable[[], Claims] | None = None,
) -> Observed:
    """What the remote holds of what the lock records. With the desired state (plan, apply),
    records are current only when their fingerprints match it; with the target alone (status,
    destroy, checkpoints, try: no media, no build), what the lock records is current.
    `steps=False` leaves a running job's step unknown (it takes a request for its logs).
    Lookalikes are looked for in `index`, else in `fresh()` (a listing shared by the effects
    of a run), else in a listing of this effect's own; the claims they are checked against
    are `recent()` (a recent view of other effects' claims: none of them names objects after
    this effect) with this effect's own lock as read now, else `claims()`. A create whose
    reply was lost is always settled against `claims()`, read afresh."""
    entry = lock.entry()
    record = LockFile.record_of(entry)
    api = api_of(spec)
    desired = spec if isinstance(spec, Desired) else None
    if index is None:  # apply: every pass looks afresh, by id
        get_file: Callable[[str], Any] = lambda fid: fetch(client.get_file, fid, api=api)  # noqa: E731
        get_job: Callable[[str], Any] = lambda jid: fetch(client.get_job, jid)  # noqa: E731
        get_dep: Callable[[str], Any] = lambda name: fetch(client.get_deployment, name)  # noqa: E731
    else:  # plan, status: the run's one listing of each kind
        get_file, get_job, get_dep = (lambda fid: index.file(fid, api)), index.job, index.deployment

    def current(kind: str, fingerprint: str | None) -> bool:
        if desired is None:
            return True
        wanted = {"dataset": desired.dataset_fp, "job": desired.job_fp}
        return fingerprint == wanted.get(kind, desired.deploy_fp)

    files: dict[str, ObservedFile] = {}
    dataset = entry.get("dataset") or {}
    if current("dataset", dataset.get("fingerprint")):
        for split, f in sorted((dataset.get("files") or {}).items()):
            remote = get_file(f["file_id"])
            if remote is not None:
                files[split] = ObservedFile(remote.file_id, remote.name, split)

    job = None
    rollback = None
    history = entry.get("history") or []
    recorded_job = entry.get("job") or {}
    job_id = recorded_job.get("job_id")
    if desired is not None and not current("job", recorded_job.get("fingerprint")):
        # inputs applied before (a checkout of an older commit): the job trained for them
        earlier = find_history(history, "job_fingerprint", desired.job_fp)
        job_id = earlier.get("job_id") if earlier else None
        if earlier is not None:
            rollback = earlier.get("commit") or f"the inputs applied at {earlier['applied_at']}"
    if job_id:
        remote_job = get_job(job_id)
        if remote_job is not None:
            job = _observed_job(client if steps else None, remote_job)
        else:
            rollback = None

    checkpoints: tuple[ObservedCheckpoint, ...] = ()
    if job is not None and job.status == "SUCCEEDED" and spec.checkpoint:
        checkpoints = tuple(
            ObservedCheckpoint(c.checkpoint, c.status, c.model_name)
            for c in client.list_checkpoints(job.job_id)
        )

    deployment = None
    others: list[ObservedDeployment] = []
    recorded_dep = entry.get("deployment") or {}
    if desired is None or current("deployment", recorded_dep.get("fingerprint")):
        wanted = recorded_dep.get("deployed_model")
    else:  # a rollback may find its deployment still live
        earlier_dep = find_history(history, "deploy_fingerprint", desired.deploy_fp)
        wanted = (earlier_dep or {}).get("deployed_model")
    names = [recorded_dep.get("deployed_model"), *(entry.get("retiring") or ()), wanted]
    for name in dict.fromkeys(n for n in names if n):
        remote_dep = get_dep(name)
        if remote_dep is None:
            continue
        od = _observed_deployment(remote_dep)
        if name == wanted and remote_dep.status != "DELETING":
            deployment = od
        else:
            others.append(od)

    pending = tuple(
        _pending(client, spec.model, intent, claims(), now(), api) for intent in record.intents
    )
    lookalikes: tuple[str, ...] = ()
    uploads: tuple[str, ...] = ()

    def owned() -> Claims:
        if recent is None:
            return claims()
        return recent().adding(claimed_ids(entry), str(lock.path.parent))

    def listing() -> RemoteIndex:
        return index or (fresh() if fresh is not None else RemoteIndex(client))

    if desired is None:
        pass  # without the dataset there is no name to recognise
    elif job is None and not record.job_id and not pending:
        jobs, uploads = _job_lookalikes(listing(), desired, owned())
        lookalikes = (*jobs, *uploads)
    elif deployment is None and not record.deployed_model and not pending:
        model = _model_to_deploy(desired, job, checkpoints)
        if model is not None:
            mine = owned()
            lookalikes = tuple(
                d.deployed_model
                for d in listing().deployments()
                if d.model_name == model and d.deployed_model not in mine
            )
    return Observed(
        files,
        job,
        checkpoints,
        deployment,
        tuple(others),
        record,
        pending,
        lookalikes,
        uploads,
        rollback,
    )


def _pending(
    client: Service,
    model: str,
    intent: dict[str, Any],
    claims: Claims,
    now: float,
    api: Api,
) -> Pending:
    action = str(intent.get("action"))
    before = set(intent.get("before") or ())
    candidates: list[str] = []
    if action == "upload":
        for f in client.list_files(api=api):
            md5 = getattr(f, "md5", None)
            if (
                f.file_id not in claims
                and f.file_id not in before
                and f.size == intent.get("size")
                and (md5 is None or md5 == intent.get("md5"))
            ):
                candidates.append(f.file_id)
    elif action == "create_job":
        for j in client.iter_jobs(model=str(intent.get("model") or model)):
            if j.job_id not in claims and j.job_id not in before and _could_be(j, intent):
                candidates.append(j.job_id)
    elif action == "create_deployment":
        for d in client.iter_deployments():
            if (
                d.deployed_model not in claims
                and d.deployed_model not in before
                and d.model_name == intent.get("model_name")
                and (d.aigc_config is None or d.aigc_config == intent.get("aigc_config"))
            ):
                candidates.append(d.deployed_model)
    at = str(intent.get("at", ""))
    return Pending(
        key=str(intent.get("key")),
        action=action,
        at=at,
        candidates=tuple(candidates),
        settled=now - _epoch(at) >= client.settle_s,
        split=intent.get("split"),
    )


def _could_be(job: FineTuneJob, intent: dict[str, Any]) -> bool:
    """Nothing the service echoes about `job` contradicts what the lost create sent. Echoes
    are optional (file ids may be [], hyperparameters partial), so absence proves nothing."""
    if job.model is not None and job.model != intent.get("model", job.model):
        return False  # the list's model filter is a convenience, not relied upon
    sent_files = intent.get("training_file_ids") or []
    if job.training_file_ids and list(job.training_file_ids) != list(sent_files):
        return False
    sent_hp = intent.get("hyper_parameters") or {}
    for key, value in job.hyper_parameters.items():
        if key in sent_hp and not _same(value, sent_hp[key]):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) <= 1e-9 * max(abs(float(a)), abs(float(b)), 1.0)
    return bool(a == b)


def _job_lookalikes(
    listing: RemoteIndex, desired: Desired, claims: Claims
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Signs that this effect was applied by a lock that is gone: unclaimed uploads carrying
    this dataset's upload name (file names are documented to come back), and unclaimed jobs
    whose echoed name is the one this effect sends (where the service keeps names)."""
    names = {z.upload_name for z in desired.zips}
    files = [
        f.file_id
        for f in listing.files(api_of(desired))
        if f.name in names and f.file_id not in claims
    ]
    jobs = [
        j.job_id
        for j in listing.jobs()
        if j.model in (None, desired.model)
        and j.job_id not in claims
        and any((n or "").startswith(desired.job_name) for n in (j.job_name, j.finetuned_output))
    ]
    return tuple(jobs), tuple(files)


def _epoch(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return 0.0


def _observed_job(client: Service | None, j: FineTuneJob) -> ObservedJob:
    step = None
    if client is not None and j.status == "RUNNING":
        for line in reversed(client.job_logs(j.job_id).logs):
            m = _STEP.search(line)
            if m:
                step = int(m.group(1))
                break
    return ObservedJob(
        j.job_id,
        j.job_name or j.job_id,
        j.status,
        j.finetuned_output or "",
        tuple(j.training_file_ids),
        dict(j.hyper_parameters),
        j.usage,
        j.message,
        j.code,
        step,
    )


def _observed_deployment(d: Deployment) -> ObservedDeployment:
    return ObservedDeployment(
        d.deployed_model, d.model_name or "", d.status, d.capacity, d.aigc_config
    )


def _model_to_deploy(
    desired: Desired, job: ObservedJob | None, checkpoints: tuple[ObservedCheckpoint, ...]
) -> str | None:
    if job is None or job.status != "SUCCEEDED":
        return None
    if desired.checkpoint is None:
        return job.finetuned_output
    ck = next((c for c in checkpoints if c.name == desired.checkpoint), None)
    return ck.model_name if ck is not None and ck.export_status == "SUCCEEDED" else None
