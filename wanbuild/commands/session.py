"""What the remote commands share: load the effects, connect one client per backend and region,
and (for plan and apply only) build the datasets and compute the desired state. status, destroy,
checkpoints and try open a session without building: they need no media."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from wanbuild.commands.backend import connect, describe
from wanbuild.config.load import LoadedEffect, find_conf_dir, load_effect, project_root
from wanbuild.core.fingerprint import digest
from wanbuild.core.target import target_spec
from wanbuild.dataset import plan_cache
from wanbuild.errors import WanbuildError
from wanbuild.reconcile.claims import Claims, project_effect_dirs, read_claims
from wanbuild.reconcile.index import RemoteIndex
from wanbuild.reconcile.lockfile import LockFile
from wanbuild.reconcile.observe import observe
from wanbuild.remote.client import Client
from wanbuild.spec.state import Desired, Observed, TargetSpec
from wanbuild.store import Store


@dataclass
class Item:
    loaded: LoadedEffect
    spec: TargetSpec
    client: Client
    built: Desired | None = None
    index: RemoteIndex | None = None  # the session's one listing of the remote, per client

    @property
    def desired(self) -> Desired:
        """The desired state; only sessions opened with build=True (plan, apply) have it."""
        assert self.built is not None, "this session was opened without building"
        return self.built

    @property
    def directory(self) -> Path:
        return self.loaded.effect.directory

    @property
    def store(self) -> Store:
        return Store.for_project(self.loaded.project)

    @property
    def lock(self) -> LockFile:
        return LockFile(self.directory, self.spec.effect, self.spec.target)

    def claims(self) -> Claims:
        """Every remote id any effect's lock in this project claims (read afresh)."""
        return read_claims(project_effect_dirs(self.loaded.project, [self.directory]))

    def observe(self) -> Observed:
        return observe(
            self.client, self.built or self.spec, self.lock, self.claims, index=self.index
        )


@dataclass
class Session:
    items: list[Item]
    headers: list[str]
    real: bool  # any effect talks to the real service
    clients: list[Client] = field(default_factory=list)

    def close(self) -> None:
        for c in self.clients:
            c.close()


def open_session(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    build: bool = False,
    write: bool = True,
) -> Session:
    clients: dict[tuple[str, str, str], Client] = {}
    indexes: dict[tuple[str, str, str], RemoteIndex] = {}
    items: list[Item] = []
    headers: list[str] = []
    real = False
    for effect_dir in effect_dirs:
        desired: Desired | None
        if build and not write:  # a plan: remembered while no input changes
            loaded, desired = _planned(effect_dir, overrides, out)
        else:
            loaded = load_effect(effect_dir, overrides)
            desired = _build(loaded, out, write) if build else None
        e = loaded.effect
        key = (e.backend.name, e.region.name, e.backend.base_url or e.region.base_url)
        if key not in clients:
            clients[key] = connect(e.backend, e.region, loaded.conf_dir, loaded.project)
            headers.append(describe(e.backend, e.region, loaded.project))
        real = real or e.backend.name != "emulator"
        if key not in indexes:
            indexes[key] = RemoteIndex(clients[key])
        items.append(Item(loaded, target_spec(e), clients[key], desired, indexes[key]))
    return Session(items, headers, real, list(clients.values()))


def _planned(effect_dir: Path, overrides: list[str], out: TextIO) -> tuple[LoadedEffect, Desired]:
    project = project_root(effect_dir)
    conf = find_conf_dir(effect_dir)
    store = Store.for_project(project)
    stat_key = plan_cache.key(
        effect_dir, conf, project / "build" / effect_dir.resolve().name, overrides
    )
    hit = plan_cache.load(store, effect_dir, stat_key, project, conf)
    if hit is not None:
        return hit
    loaded = load_effect(effect_dir, overrides)
    desired = _build(loaded, out, write=False)
    plan_cache.save(store, stat_key, loaded, desired)
    return loaded, desired


def _build(loaded: LoadedEffect, out: TextIO, write: bool) -> Desired:
    # imported here: a plan of unchanged effects (the plan cache) never loads the builder
    from wanbuild.dataset.builder import BuildRefused
    from wanbuild.dataset.desired import desired_state

    try:
        return desired_state(loaded, Store.for_project(loaded.project), write=write)
    except BuildRefused as refused:
        for f in refused.findings:
            if f.severity == "error":
                print(f.render(), file=out)
        raise WanbuildError(f"{loaded.effect_file}: {refused} (see `wanbuild validate`)") from None


def observed_digest(observed: Observed) -> str:
    """What a saved plan was made against: ids and coarse states of the remote objects."""

    def phase(status: str | None) -> str:
        if status in ("PENDING", "QUEUING", "RUNNING", "DEPLOYING", "UPDATING", "PROCESSING"):
            return "active"
        return str(status)

    job = observed.job
    return digest(
        {
            "files": {s: f.file_id for s, f in observed.files.items()},
            "job": [job.job_id, phase(job.status)] if job else None,
            "checkpoints": [[c.name, phase(c.export_status)] for c in observed.checkpoints],
            "deployment": (
                [
                    observed.deployment.deployed_model,
                    phase(observed.deployment.status),
                    observed.deployment.capacity,
                ]
                if observed.deployment
                else None
            ),
            "others": sorted(d.deployed_model for d in observed.others),
        }
    )


def desired_digest(desired: Desired) -> dict[str, str]:
    return {"dataset": desired.dataset_fp, "job": desired.job_fp, "deployment": desired.deploy_fp}
