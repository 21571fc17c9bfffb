"""Carry out one action of a plan against the remote, recording intents and ids in the lock.

No decisions are made here. Creates are never repeated blindly: an intent is written before
each, the returned id right after, and an ambiguous failure (the request may have been
applied) is left to the next observation, which finds the object by its name if it exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wanbuild.core.actions import Action, Kind
from wanbuild.core.fingerprint import job_name
from wanbuild.reconcile import crash
from wanbuild.reconcile.lockfile import LockFile, deployment_entry, file_entry, job_entry
from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.spec.state import Desired, Observed

Say = Callable[[str], None]


class Executor:
    def __init__(
        self, client: Client, desired: Desired, lock: LockFile, say: Say, commit: str | None
    ) -> None:
        self.client, self.desired, self.lock, self.say, self.commit = (
            client,
            desired,
            lock,
            say,
            commit,
        )

    def run(self, action: Action, observed: Observed, *, retry_failed: bool) -> None:
        handler = {
            Kind.UPLOAD: self._upload,
            Kind.TRAIN: self._train,
            Kind.EXPORT: self._export,
            Kind.DEPLOY: self._deploy,
            Kind.SCALE: self._scale,
            Kind.UNDEPLOY: self._undeploy,
        }[action.kind]
        handler(action, observed, retry_failed)

    def _intent(self, key: str, what: str, **details: Any) -> None:
        self.lock.add_intent({"key": key, "action": what, "at": _now(), **details})

    def _upload(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        z = next(z for z in self.desired.zips if z.split == action.params["split"])
        api = "native" if self.desired.upload_api == "native" else "compatible"
        key = f"upload:{z.split}:{self.desired.dataset_fp[:16]}"
        self._intent(key, "upload", file=z.upload_name)
        self.say(f"uploading {z.path} ({z.size / 1_048_576:.2f} MB) as {z.upload_name}")
        upload_path = Path(z.path).with_name(z.upload_name)
        _link(Path(z.path), upload_path)
        try:
            f = self.client.upload_file(
                upload_path,
                api=api,  # type: ignore[arg-type]
                description=z.description,
            )
        finally:
            upload_path.unlink(missing_ok=True)
        dataset = self.lock.entry().get("dataset") or {}
        files = (
            dict(dataset.get("files") or {})
            if dataset.get("fingerprint") == self.desired.dataset_fp
            else {}
        )
        files[z.split] = file_entry(z, f.file_id)
        self.lock.update(dataset={"fingerprint": self.desired.dataset_fp, "files": files})
        self.lock.clear_intent(key)
        crash.point("after_upload")

    def _file_ids(self, observed: Observed) -> dict[str, str]:
        ids = {s: f.file_id for s, f in observed.files.items()}
        recorded = self.lock.entry().get("dataset") or {}
        if recorded.get("fingerprint") == self.desired.dataset_fp:
            for split, f in (recorded.get("files") or {}).items():
                ids.setdefault(split, f["file_id"])
        return ids

    def _train(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        d = self.desired
        ids = self._file_ids(observed)
        attempt = 1
        if observed.job is not None:  # a failed or cancelled attempt is being retried
            taken = {observed.job.job_name, *(j.job_name for j in observed.failed_jobs)}
            attempt = 2
            while job_name(d.effect, d.job_fp, attempt) in taken:
                attempt += 1
        name = job_name(d.effect, d.job_fp, attempt)
        key = f"train:{name}"
        self._intent(
            key,
            "create_job",
            job_name=name,
            job_fingerprint=d.job_fp,
            training_file_ids=[ids["train"]],
        )
        crash.point("before_create_job")
        self.say(f"creating training job {name} on {d.model} ({d.steps_text})")
        job = self.client.create_job(
            d.model,
            [ids["train"]],
            hyper_parameters=d.hyper_parameters,
            validation_file_ids=[ids["validation"]] if "validation" in ids else None,
            training_type=d.training_type,
            job_name=name,
            model_name=name,
        )
        crash.point("after_create_job")
        self.lock.update(
            job=job_entry(
                d,
                job_id=job.job_id,
                job_name=name,
                finetuned_output=job.finetuned_output,
                status=job.status,
                attempt=attempt,
                created=_now(),
            )
        )
        self.lock.clear_intent(key)
        self.say(f"job {job.job_id} created ({job.status})")

    def _export(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        job = observed.job
        assert job is not None
        display_name = f"{job.finetuned_output}-{action.target}"
        self.say(f"exporting {action.target} of {job.job_id}")
        self.client.export_checkpoint(job.job_id, action.target, display_name)

    def _deploy(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        d = self.desired
        model = action.params["model_name"]
        key = f"deploy:{action.target}"
        self._intent(key, "create_deployment", deployed_model=action.target)
        self.say(f"deploying {model} as {action.target}")
        try:
            dep = self.client.create_deployment(
                model, capacity=d.capacity, aigc_config=d.aigc_config, suffix=d.deploy_suffix
            )
            name = dep.deployed_model
        except PermanentRemoteError as e:
            if e.status != 409:
                raise
            name = action.target  # created by an earlier run that did not record it
        crash.point("after_deploy")
        self.lock.update(
            deployment=deployment_entry(
                d, deployed_model=name, model_name=model, capacity=d.capacity
            )
        )
        self.lock.clear_intent(key)

    def _scale(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        self.say(f"scaling {action.target} to capacity {self.desired.capacity}")
        self.client.scale_deployment(action.target, self.desired.capacity)

    def _undeploy(self, action: Action, observed: Observed, retry_failed: bool) -> None:
        self.say(f"undeploying {action.target} ({action.detail})")
        try:
            self.client.delete_deployment(action.target)
        except PermanentRemoteError as e:
            if e.status != 404:
                raise


def _link(src: Path, dst: Path) -> None:
    """The zip under its upload name (which carries the fingerprint), without copying it."""
    dst.unlink(missing_ok=True)
    try:
        dst.hardlink_to(src)
    except OSError:
        dst.symlink_to(src.resolve())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
