"""`wanbuild reproduce REV EFFECT [--dry-run]`: train again exactly what REV trained.

REV's tree is materialised in a temporary worktree with its media (DVC cache or remote), the
dataset rebuilt, and its fingerprints looked up by content in the effect's history: the record
of that dataset and those hyperparameters must exist, and the rebuilt dataset must equal it
byte for byte (its fingerprint). Then the zips are uploaded and one new job is created with the
identical hyperparameters; it is recorded in the history as a reproduction and claimed by the
effect, not deployed. Intents guard every create, as in apply: a reproduction whose reply was
lost is never sent twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands.backend import connect, describe
from wanbuild.commands.session import Shared, say_to
from wanbuild.config.load import display, load_effect, project_root
from wanbuild.core.manifest import stack_differences
from wanbuild.core.target import target_spec
from wanbuild.dataset.desired import desired_state
from wanbuild.errors import EXIT_OK, WanbuildError
from wanbuild.reconcile.lockfile import LockFile, find_history
from wanbuild.reconcile.observe import api_of
from wanbuild.store import Store
from wanbuild.versioning.revisions import resolve
from wanbuild.versioning.worktree import materialized


def reproduce_command(
    rev: str, effect_dir: Path, overrides: list[str], out: TextIO, *, dry_run: bool
) -> int:
    root = project_root(Path.cwd())
    sha = resolve(root, rev)
    name = effect_dir.resolve().name
    rel = f"effects/{name}"
    with materialized(root, sha, [rel]) as tree:
        loaded = load_effect(tree / rel, overrides)
        desired = desired_state(loaded, Store.for_project(tree))
        lock = LockFile(root / rel, name, desired.target)
        history = lock.entry().get("history") or []
        record = find_history(history, "job_fingerprint", desired.job_fp)
        if record is None or record.get("dataset") != desired.dataset_fp:
            raise WanbuildError(_not_reproducible(rel, sha, desired, history, lock.path, record))
        print(
            f"{name}: inputs at {sha[:12]} = the run of {record.get('applied_at')} "
            f"(job {record.get('job_id')})",
            file=out,
        )
        print(f"  dataset {desired.dataset_fp[:16]} verified (rebuilt byte for byte)", file=out)
        print(f"  hyper_parameters {desired.hyper_parameters}", file=out)
        print(f"  {desired.steps_text}", file=out)
        if dry_run:
            print(
                f"  would upload {len(desired.zips)} zip(s) and create 1 job on {desired.model}",
                file=out,
            )
            return EXIT_OK
        if any(i.get("key", "").startswith("reproduce") for i in lock.entry().get("intents", [])):
            raise WanbuildError(
                f"{name}: an earlier reproduce got no reply; check the console, then "
                f"`wanbuild adopt` its job or `wanbuild apply --forget-pending {rel}`"
            )
        e = loaded.effect
        shared = Shared.of(e.backend)
        gate = None
        if shared is not None:  # a reproduction is a paid create like any other
            spec = target_spec(e)
            say = say_to(out, name)
            gate = shared.gate(root, root / rel, spec, say=say, timeout=600.0, command="reproduce")
            gate.enter()
            lock = LockFile(root / rel, name, desired.target, publish=gate.publish)
        client = connect(e.backend, e.region, loaded.conf_dir, root, acting=True)
        print(describe(e.backend, e.region, root), file=out)
        try:
            job_id = _train(client, desired, lock, sha, out)
        finally:
            client.close()
            if gate is not None:
                gate.release()
    print(f"{name}: reproduction of {sha[:12]} is job {job_id}", file=out)
    return EXIT_OK


def _not_reproducible(
    rel: str,
    sha: str,
    desired: Any,
    history: list[dict[str, Any]],
    lock_path: Path,
    record: dict[str, Any] | None,
) -> str:
    """Why REV's run cannot be reproduced here: never applied, or its dataset rebuilt to other
    bytes, and then whether the libraries that fit the media differ from those of the run."""
    if record is None:  # the run at REV itself, or one of the same model and hyperparameters
        same = [h for h in history if h.get("commit") == sha] or [
            h
            for h in history
            if h.get("model") == desired.model
            and h.get("hyper_parameters") == desired.hyper_parameters
        ]
        record = same[-1] if same else None
    if record is None or record.get("dataset") == desired.dataset_fp:
        return (
            f"{rel}: the inputs at {sha[:12]} were never applied to {desired.target} "
            f"(no record of job fingerprint {desired.job_fp[:12]} in {display(lock_path)}); "
            "`wanbuild log` lists what was"
        )
    head = (
        f"{rel}: the dataset rebuilt at {sha[:12]} is {desired.dataset_fp[:12]}, the one "
        f"trained was {str(record.get('dataset'))[:12]}: not reproducible"
    )
    then = record.get("built_with")
    moved = stack_differences(desired.built_with or {}, then or {}, ("here", "for the run"))
    if not (desired.built_with and then and moved):
        return f"{head} (its captions or media are not those of the run)"
    wanted = " ".join(f"{k}=={then[k]}" for k in ("av", "pillow") if k in then)
    return (
        f"{head}: the media were fitted by other libraries ({'; '.join(moved)}); "
        f"install those of the run (`pip install {wanted}`, or the set locked at {sha[:12]}: "
        f"`git show {sha[:12]}:.ci/constraints.txt > /tmp/c.txt && "
        "pip install -e . -c /tmp/c.txt`) and run it again"
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _train(client: Any, desired: Any, lock: LockFile, sha: str, out: TextIO) -> str:
    ids: dict[str, str] = {}
    for z in desired.zips:
        key = f"reproduce:upload:{z.split}"
        lock.add_intent(
            {
                "key": key,
                "action": "reproduce_upload",
                "at": _now(),
                "split": z.split,
                "size": z.size,
                "before": [],
                "reproduction_of": sha,
            }
        )
        print(f"  uploading {display(Path(z.path))} ({z.size / 1_048_576:.2f} MB)", file=out)
        f = client.upload_file(Path(z.path), api=api_of(desired), description=z.description)
        lock.settle(key, ("files", f.file_id))
        ids[z.split] = f.file_id
    key = "reproduce:train"
    lock.add_intent(
        {
            "key": key,
            "action": "reproduce_job",
            "at": _now(),
            "model": desired.model,
            "hyper_parameters": desired.hyper_parameters,
            "before": [],
            "reproduction_of": sha,
        }
    )
    job = client.create_job(
        desired.model,
        [ids["train"]],
        hyper_parameters=desired.hyper_parameters,
        validation_file_ids=[ids["validation"]] if "validation" in ids else None,
        training_type=desired.training_type,
    )
    history = list(lock.entry().get("history") or [])
    history.append(
        {
            "reproduction_of": sha,
            "dataset": desired.dataset_fp,
            "job_fingerprint": desired.job_fp,
            "hyper_parameters": desired.hyper_parameters,
            "model": desired.model,
            "file_ids": ids,
            "job_id": job.job_id,
            "applied_at": _now(),
            "commit": sha,
        }
    )
    lock.settle(key, ("jobs", job.job_id), history=history)
    return str(job.job_id)
