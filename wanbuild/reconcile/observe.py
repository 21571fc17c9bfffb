"""Read the remote for one effect: its uploads, jobs, checkpoints and deployments.

Objects are recognised by what wanbuild put in them, so a lost or stale wanbuild.lock loses
nothing: uploads by file name (or description) carrying the dataset fingerprint; jobs by the
job name derived from the job fingerprint, or by training files + model + hyperparameters;
deployments by the model they serve.
"""

from __future__ import annotations

import re

from wanbuild.core import fingerprint as fp
from wanbuild.remote.client import Client
from wanbuild.remote.models import FineTuneJob
from wanbuild.spec.state import (
    Desired,
    LockRecord,
    Observed,
    ObservedCheckpoint,
    ObservedDeployment,
    ObservedFile,
    ObservedJob,
)

_STEP = re.compile(r"step (\d+)/(\d+)")


def observe(client: Client, desired: Desired, lock: LockRecord) -> Observed:
    api = "native" if desired.upload_api == "native" else "compatible"
    remote_files = client.list_files(api=api)  # type: ignore[arg-type]
    files: dict[str, ObservedFile] = {}
    for z in desired.zips:
        for f in remote_files:
            if f.name == z.upload_name or (f.description or "") == z.description:
                files[z.split] = ObservedFile(f.file_id, f.name, z.split)
                break
    jobs = list(client.iter_jobs(model=desired.model))
    prefix = f"wb-{fp.slug(desired.effect)}-"
    base = fp.job_name(desired.effect, desired.job_fp)
    wanted = [j for j in jobs if _attempt(j, base) is not None or _same_request(j, desired, files)]
    mine = [
        j
        for j in jobs
        if (j.job_name or "").startswith(prefix)
        or (j.finetuned_output or "").startswith(prefix)
        or j in wanted
    ]
    wanted.sort(key=lambda j: (_attempt(j, base) or 0, j.create_time or ""))
    job = _observed_job(client, wanted[-1]) if wanted else None
    checkpoints: tuple[ObservedCheckpoint, ...] = ()
    if job is not None and job.status == "SUCCEEDED" and desired.checkpoint:
        checkpoints = tuple(
            ObservedCheckpoint(c.checkpoint, c.status, c.model_name)
            for c in client.list_checkpoints(job.job_id)
        )
    served = {j.finetuned_output for j in mine if j.finetuned_output}
    deployment = None
    others = []
    model = _model_to_deploy(desired, job, checkpoints)
    expected = f"{model}-{desired.deploy_suffix}" if model else None
    for d in client.iter_deployments():
        od = ObservedDeployment(
            d.deployed_model, d.model_name or "", d.status, d.capacity, d.aigc_config
        )
        if d.deployed_model == expected:
            deployment = od
        elif any((d.model_name or "").startswith(m) for m in served) or (
            lock.deployed_model and d.deployed_model == lock.deployed_model
        ):
            others.append(od)
    return Observed(
        files,
        job,
        checkpoints,
        deployment,
        tuple(others),
        lock,
        tuple(_observed_job(None, j) for j in wanted[:-1]),
    )


def _attempt(job: FineTuneJob, base: str) -> int | None:
    for name in (job.job_name or "", job.finetuned_output or ""):
        if name == base:
            return 1
        if name.startswith(f"{base}-r") and name[len(base) + 2 :].isdigit():
            return int(name[len(base) + 2 :])
    return None


def _same_request(job: FineTuneJob, desired: Desired, files: dict[str, ObservedFile]) -> bool:
    """A job matching by content when the service ignored our job name."""
    train = files.get("train")
    return (
        train is not None
        and job.training_file_ids == [train.file_id]
        and job.model == desired.model
        and job.hyper_parameters == desired.hyper_parameters
    )


def _observed_job(client: Client | None, j: FineTuneJob) -> ObservedJob:
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


def _model_to_deploy(
    desired: Desired, job: ObservedJob | None, checkpoints: tuple[ObservedCheckpoint, ...]
) -> str | None:
    if job is None or job.status != "SUCCEEDED":
        return None
    if desired.checkpoint is None:
        return job.finetuned_output
    ck = next((c for c in checkpoints if c.name == desired.checkpoint), None)
    return ck.model_name if ck is not None and ck.export_status == "SUCCEEDED" else None
