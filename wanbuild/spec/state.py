"""Desired and observed state of one effect, as values: what `plan` decides between.

Desired comes from the effect directory (composed config, built dataset); Observed from the
remote and the effect's wanbuild.lock. Both are plain frozen data, so planning is a pure
function of the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TargetSpec:
    """What the remote side of an effect needs, from its configuration alone (no media, no
    build): status, destroy, checkpoints and try work from this, the lock and the remote."""

    effect: str
    target: str  # "<backend>/<region>"
    kind: str
    model: str
    region: str
    upload_api: str
    checkpoint: str | None
    total_steps: int
    steps_text: str


@dataclass(frozen=True)
class DesiredZip:
    split: str
    path: str
    sha256: str
    size: int
    upload_name: str  # carries the dataset fingerprint: how a lost upload is found again
    description: str


@dataclass(frozen=True)
class Desired:
    effect: str
    target: str  # "<backend>/<region>": locks and lineage are kept per target
    kind: str
    model: str
    region: str
    upload_api: str
    dataset_fp: str
    zips: tuple[DesiredZip, ...]
    training_type: str
    hyper_parameters: dict[str, Any]
    job_fp: str
    job_name: str
    total_steps: int
    steps_text: str
    checkpoint: str | None
    capacity: int
    aigc_config: dict[str, Any] | None
    deploy_fp: str
    tokens_estimate: int | None = None
    cost_estimate_cny: float | None = None
    hours_estimate: float | None = None
    fitted: tuple[str, ...] = ()  # media changes build made, to say in the plan
    built: bool = True  # False: planned without writing the zips (sizes are estimates)
    deploy_estimate: str = "free, ~5-10 min"  # what a deployment costs on this backend
    # the libraries that fitted the dataset's media (PyAV, FFmpeg, libx264, Pillow ...): why
    # the same inputs can give another fingerprint on another machine; None: not recorded
    built_with: dict[str, str] | None = None


@dataclass(frozen=True)
class ObservedFile:
    file_id: str
    name: str
    split: str


@dataclass(frozen=True)
class ObservedJob:
    job_id: str
    job_name: str
    status: str
    finetuned_output: str
    training_file_ids: tuple[str, ...] = ()
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    usage: int | None = None
    message: str | None = None
    code: str | None = None
    step: int | None = None


@dataclass(frozen=True)
class ObservedCheckpoint:
    name: str
    export_status: str | None
    model_name: str | None


@dataclass(frozen=True)
class ObservedDeployment:
    deployed_model: str
    model_name: str
    status: str
    capacity: int | None
    aigc_config: dict[str, Any] | None


@dataclass(frozen=True)
class LockRecord:
    """What the last apply recorded for this effect and target (the lineage), if anything."""

    dataset_fp: str | None = None
    job_fp: str | None = None
    job_id: str | None = None
    job_hyper_parameters: dict[str, Any] = field(default_factory=dict)
    deploy_fp: str | None = None
    deployed_model: str | None = None
    attempt: int = 1
    intents: tuple[dict[str, Any], ...] = ()
    dataset_built_with: dict[str, str] | None = None  # what fitted the recorded dataset


@dataclass(frozen=True)
class Pending:
    """A create whose reply never reached wanbuild.lock (a crash, a lost response): the object
    may or may not exist. Candidates are the remote objects it could be."""

    key: str
    action: str  # "upload", "create_job" or "create_deployment"
    at: str
    candidates: tuple[str, ...]
    settled: bool  # long enough ago that the service's lists must show it if it exists
    split: str | None = None


@dataclass(frozen=True)
class Observed:
    files: dict[str, ObservedFile]  # by split: the recorded uploads of the desired dataset
    job: ObservedJob | None  # the recorded job of the desired job fingerprint
    checkpoints: tuple[ObservedCheckpoint, ...]
    deployment: ObservedDeployment | None  # the recorded deployment of the desired config
    others: tuple[ObservedDeployment, ...]  # this effect's other live deployments (to retire)
    lock: LockRecord
    pending: tuple[Pending, ...] = ()
    # Remote objects no lock claims that look like this effect's (a lost or reverted lock):
    # never adopted on a name alone; the plan stops and says how to adopt them.
    lookalikes: tuple[str, ...] = ()
    lookalike_uploads: tuple[str, ...] = ()  # those of the lookalikes that are uploads
    # The commit (or time) whose inputs the desired state equals, when it is not the current
    # record: the job trained then is reused, a rollback that needs no training.
    rollback: str | None = None
