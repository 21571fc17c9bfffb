"""Carry out one action of a plan against the remote, recording intents and ids in the lock.

No decisions are made here. Before each create an intent is written: what is sent, when, and
which unclaimed objects of that kind already existed (so that a lost reply is settled by what
appeared since, never by a name the service may ignore). The id the reply carries is recorded,
claimed for this effect and the intent dropped in one atomic write. An ambiguous failure (the
request may have been applied) leaves the intent for the next observation to settle.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wanbuild.core.actions import Action, Kind
from wanbuild.core.fingerprint import job_name
from wanbuild.errors import WanbuildError
from wanbuild.reconcile import crash
from wanbuild.reconcile.claims import Claims
from wanbuild.reconcile.index import RemoteIndex, fetch
from wanbuild.reconcile.lockfile import (
    LockFile,
    dataset_entry,
    deployment_entry,
    file_entry,
    job_entry,
)
from wanbuild.reconcile.observe import api_of
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.service import Service
from wanbuild.spec.state import Desired, Observed
from wanbuild.versioning.revisions import file_md5

Say = Callable[[str], None]
SUFFIX_TRIES = 3


class Executor:
    def __init__(
        self,
        client: Service,
        desired: Desired,
        lock: LockFile,
        say: Say,
        claims: Callable[[], Claims],
        uploads: threading.Semaphore | None = None,
        listing: Callable[[], RemoteIndex] | None = None,
        recent_claims: Callable[[], Claims] | None = None,
    ) -> None:
        self.client, self.desired, self.lock, self.say = client, desired, lock, say
        self.claims = claims  # read afresh: who owns what, before adopting
        # what a create records as already there needs no fresher view (claims.RecentClaims)
        self.recent_claims = recent_claims or claims
        self.uploads = uploads or threading.Semaphore(1)  # uploads in flight (shared)
        # what exists before a create: a listing begun now (shared by effects creating at once)
        self.listing = listing or (lambda: RemoteIndex(client))
        self.new_suffix: Callable[[], str] = lambda: secrets.token_hex(4)  # a test seam

    def run(self, action: Action, observed: Observed) -> None:
        handler = {
            Kind.UPLOAD: self._upload,
            Kind.TRAIN: self._train,
            Kind.EXPORT: self._export,
            Kind.DEPLOY: self._deploy,
            Kind.UNDEPLOY: self._undeploy,
            Kind.ADOPT: self._adopt,
        }[action.kind]
        handler(action, observed)

    def _intent(self, key: str, what: str, before: list[str], **details: Any) -> None:
        self.lock.add_intent(
            {"key": key, "action": what, "at": _now(), "before": sorted(before), **details}
        )

    def _upload(self, action: Action, observed: Observed) -> None:
        z = next(z for z in self.desired.zips if z.split == action.params["split"])
        api = api_of(self.desired)
        md5 = file_md5(Path(z.path))
        if md5 is None:
            raise FileNotFoundError(z.path)  # built moments ago; gone means something is wrong
        claims = self.recent_claims()
        before = [
            f.file_id
            for f in self.listing().files(api)
            if f.file_id not in claims and f.size == z.size
        ]
        key = f"upload:{z.split}"
        self._intent(
            key,
            "upload",
            before,
            split=z.split,
            dataset_fingerprint=self.desired.dataset_fp,
            file=z.upload_name,
            size=z.size,
            md5=md5,
        )
        self.say(f"uploading {z.path} ({z.size / 1_048_576:.2f} MB) as {z.upload_name}")
        upload_path = Path(z.path).with_name(z.upload_name)
        _link(Path(z.path), upload_path)
        try:
            with self.uploads:
                f = self.client.upload_file(upload_path, api=api, description=z.description)
        finally:
            upload_path.unlink(missing_ok=True)
        self._record_file(z.split, self.desired.dataset_fp, f.file_id, key)
        crash.point("after_upload")

    def _record_file(self, split: str, dataset_fp: str, file_id: str, key: str | None) -> None:
        changes: dict[str, Any] = {}
        if dataset_fp == self.desired.dataset_fp:
            z = next(z for z in self.desired.zips if z.split == split)
            dataset = self.lock.entry().get("dataset") or {}
            same = dataset.get("fingerprint") == dataset_fp
            files = dict(dataset.get("files") or {}) if same else {}
            files[split] = file_entry(z, file_id)
            changes["dataset"] = dataset_entry(self.desired, files, dataset)
        self.lock.settle(key, ("files", file_id), **changes)

    def _file_ids(self, observed: Observed) -> dict[str, str]:
        ids = {s: f.file_id for s, f in observed.files.items()}
        recorded = self.lock.entry().get("dataset") or {}
        if recorded.get("fingerprint") == self.desired.dataset_fp:
            for split, f in (recorded.get("files") or {}).items():
                ids.setdefault(split, f["file_id"])
        return ids

    def _train(self, action: Action, observed: Observed) -> None:
        d = self.desired
        ids = self._file_ids(observed)
        recorded = self.lock.entry().get("job") or {}
        attempt = 1
        if observed.job is not None:  # a failed or cancelled attempt is being retried
            attempt = int(recorded.get("attempt") or 1) + 1
        name = job_name(d.effect, d.job_fp, attempt)
        claims = self.recent_claims()
        before = [j.job_id for j in self.listing().jobs() if j.job_id not in claims]
        self._intent(
            "train",
            "create_job",
            before,
            job_name=name,
            job_fingerprint=d.job_fp,
            model=d.model,
            training_file_ids=[ids["train"]],
            hyper_parameters=d.hyper_parameters,
            attempt=attempt,
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
        self._record_job(
            job.job_id,
            job.job_name or job.job_id,
            job.finetuned_output,
            job.status,
            d.job_fp,
            d.hyper_parameters,
            attempt,
            "train",
        )
        self.say(f"job {job.job_id} created ({job.status})")

    def _record_job(
        self,
        job_id: str,
        name: str,
        output: str | None,
        status: str,
        fingerprint: str,
        hyper_parameters: dict[str, Any],
        attempt: int,
        key: str | None,
    ) -> None:
        entry = job_entry(
            self.desired,
            job_id=job_id,
            job_name=name,
            finetuned_output=output,
            status=status,
            attempt=attempt,
            created=_now(),
        )
        entry.update(fingerprint=fingerprint, hyper_parameters=hyper_parameters)
        self.lock.settle(key, ("jobs", job_id), job=entry)

    def _export(self, action: Action, observed: Observed) -> None:
        job = observed.job
        assert job is not None
        display_name = f"{job.finetuned_output}-{action.target}"
        self.say(f"exporting {action.target} of {job.job_id}")
        self.client.export_checkpoint(job.job_id, action.target, display_name)

    def _deploy(self, action: Action, observed: Observed) -> None:
        d = self.desired
        model = action.params["model_name"]
        for _ in range(SUFFIX_TRIES):
            # A fresh suffix per create: the service may keep a used suffix reserved forever,
            # and the name it returns, whatever it is, is the deployment's identity.
            suffix = self.new_suffix()
            claims = self.recent_claims()
            before = [
                x.deployed_model
                for x in self.listing().deployments()
                if x.model_name == model and x.deployed_model not in claims
            ]
            self._intent(
                "deploy",
                "create_deployment",
                before,
                deploy_fingerprint=d.deploy_fp,
                model_name=model,
                suffix=suffix,
                aigc_config=d.aigc_config,
            )
            self.say(f"deploying {model}")
            try:
                dep = self.client.create_deployment(
                    model, capacity=d.capacity, aigc_config=d.aigc_config, suffix=suffix
                )
            except PermanentRemoteError as e:
                if e.status != 409:
                    raise
                self.lock.clear_intent("deploy")  # refused: nothing was created
                self.say(f"suffix {suffix} refused ({e.code}); trying another")
                continue
            crash.point("after_deploy")
            self._record_deployment(dep.deployed_model, model, d.deploy_fp, "deploy")
            self.say(f"deployment {dep.deployed_model} created ({dep.status})")
            return
        raise PermanentRemoteError(f"deploying {model}: {SUFFIX_TRIES} suffixes refused (409)")

    def _record_deployment(
        self, deployed_model: str, model: str, fingerprint: str, key: str | None
    ) -> None:
        entry = self.lock.entry()
        previous = (entry.get("deployment") or {}).get("deployed_model")
        retiring = list(entry.get("retiring") or ())
        if previous and previous != deployed_model and previous not in retiring:
            retiring.append(previous)
        new = deployment_entry(
            self.desired, deployed_model=deployed_model, model_name=model, capacity=None
        )
        new["fingerprint"] = fingerprint
        self.lock.settle(
            key, ("deployments", deployed_model), deployment=new, retiring=retiring or None
        )

    def _undeploy(self, action: Action, observed: Observed) -> None:
        self.say(f"undeploying {action.target} ({action.detail})")
        try:
            self.client.delete_deployment(action.target)
        except PermanentRemoteError as e:
            if e.status != 404:
                raise
        retiring = [r for r in self.lock.entry().get("retiring") or () if r != action.target]
        self.lock.update(retiring=retiring or None)

    def _adopt(self, action: Action, observed: Observed) -> None:
        adopt(self, action.target, intent_key=_key_of(action))
        self.say(f"adopted {action.target} ({action.detail})")


def _key_of(action: Action) -> str:
    what = action.params.get("action")
    if what == "upload":
        return f"upload:{action.params.get('split')}"
    return "train" if what == "create_job" else "deploy"


def adopt(executor: Executor, remote_id: str, *, intent_key: str | None) -> str:
    """Record `remote_id` as this effect's, settling the pending create `intent_key` (or, with
    None, the pending create of its kind, if any). Returns what it was: file, job, deployment.
    Refuses an object another effect's lock claims, or a job on another base model."""
    owner = executor.claims().owner(remote_id)
    lock, d, client = executor.lock, executor.desired, executor.client
    if owner is not None and Path(owner).resolve() != lock.path.parent.resolve():
        raise WanbuildError(f"{remote_id} belongs to the effect in {owner}; not adopted")
    intents = {i.get("key"): i for i in lock.entry().get("intents", [])}
    job = fetch(client.get_job, remote_id)
    if job is not None:
        if job.model not in (None, d.model):
            raise WanbuildError(f"{remote_id} trains {job.model}, not {d.model}; not adopted")
        intent = intents.get(intent_key or "train") or {}
        executor._record_job(
            job.job_id,
            job.job_name or job.job_id,
            job.finetuned_output,
            job.status,
            str(intent.get("job_fingerprint") or d.job_fp),
            dict(intent.get("hyper_parameters") or d.hyper_parameters),
            int(intent.get("attempt") or 1),
            (intent_key or "train") if intent else None,
        )
        return "job"
    dep = fetch(client.get_deployment, remote_id)
    if dep is not None:
        intent = intents.get(intent_key or "deploy") or {}
        executor._record_deployment(
            dep.deployed_model,
            dep.model_name or str(intent.get("model_name")),
            str(intent.get("deploy_fingerprint") or d.deploy_fp),
            (intent_key or "deploy") if intent else None,
        )
        return "deployment"
    f = fetch(client.get_file, remote_id, api=api_of(d))
    if f is not None:
        key = intent_key or next((k for k in intents if str(k).startswith("upload:")), None)
        intent = intents.get(key) or {}
        split = str(intent.get("split") or "train")
        fp = str(intent.get("dataset_fingerprint") or d.dataset_fp)
        executor._record_file(split, fp, f.file_id, key if intent else None)
        return "file"
    raise WanbuildError(f"{remote_id}: no such job, deployment or file on the service")


def _link(src: Path, dst: Path) -> None:
    """The zip under its upload name (which carries the fingerprint), without copying it."""
    dst.unlink(missing_ok=True)
    try:
        dst.hardlink_to(src)
    except OSError:
        dst.symlink_to(src.resolve())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
