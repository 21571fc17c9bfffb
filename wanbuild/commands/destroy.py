"""`wanbuild destroy EFFECT`: undeploy the effect (and with --delete-files / --delete-jobs, remove
its uploads and finished jobs). Asks first unless --yes; never touches a running job."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import confirm, open_session, say_to
from wanbuild.errors import EXIT_ERROR, EXIT_OK
from wanbuild.reconcile.index import fetch
from wanbuild.reconcile.lease import Gate
from wanbuild.reconcile.observe import api_of
from wanbuild.remote.errors import PermanentRemoteError


def destroy_command(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    yes: bool,
    delete_files: bool,
    delete_jobs: bool,
) -> int:
    session = open_session(effect_dirs, overrides, out)
    gates: list[Gate] = []
    try:
        for line in session.headers:
            print(line, file=out)
        work = []
        for item in session.items:
            d = item.spec
            lock = item.lock
            o = item.observe()
            deployments = [x for x in (o.deployment, *o.others) if x is not None]
            claims = lock.entry().get("claims") or {}
            jobs = []
            for job_id in claims.get("jobs", []) if delete_jobs else []:
                job = fetch(item.client.get_job, job_id)
                if job is not None:
                    jobs.append(job)
            api = api_of(d)
            files = []
            for file_id in claims.get("files", []) if delete_files else []:
                f = fetch(item.client.get_file, file_id, api=api)
                if f is not None:
                    files.append(f)
            for x in deployments:
                print(f"  - undeploy {x.deployed_model} ({x.status})", file=out)
            for j in jobs:
                print(f"  - delete job {j.job_id} ({j.status})", file=out)
            for f in files:
                print(f"  - delete file {f.file_id} ({f.name})", file=out)
            work.append((item, lock, deployments, jobs, files))
        if not any(w[2] or w[3] or w[4] for w in work):
            print("Nothing to destroy.", file=out)
            return EXIT_OK
        if not yes and not confirm(out, "Destroy the above?", "destroy needs confirmation"):
            print("Nothing destroyed.", file=out)
            return EXIT_ERROR
        for item, lock, deployments, jobs, files in work:
            gate = item.gate(say_to(out, item.spec.effect), 600.0, "destroy")
            if gate is not None:  # what is deleted is recorded where every machine sees it
                gate.enter()
                gates.append(gate)
                lock = item.locked(gate)
            api = api_of(item.spec)
            for x in deployments:
                item.client.delete_deployment(x.deployed_model)
            for j in jobs:
                if j.status in ("PENDING", "QUEUING", "RUNNING", "CANCELING"):
                    print(f"  kept job {j.job_id}: it is {j.status}", file=out)
                    continue
                try:
                    item.client.delete_job(j.job_id)
                except PermanentRemoteError as e:
                    print(f"  kept job {j.job_id}: {e}", file=out)
            for f in files:
                item.client.delete_file(f.file_id, api=api)
            lock.update(
                deployment=None,
                retiring=None,
                destroyed={"deployments": [x.deployed_model for x in deployments]},
            )
            print(f"{item.spec.effect}: destroyed", file=out)
    finally:
        for gate in gates:
            gate.release()
        session.close()
    return EXIT_OK
