"""What the remote commands share: load the effects, connect one client per backend and region,
and (for plan and apply only) build the datasets and compute the desired state. status, destroy,
checkpoints and try open a session without building: they need no media."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from wanbuild.commands.backend import connect, describe
from wanbuild.config.places import find_conf_dir, project_root
from wanbuild.core.fingerprint import digest
from wanbuild.dataset import plan_cache
from wanbuild.errors import WanbuildError
from wanbuild.reconcile.claims import Claims, RecentClaims, project_effect_dirs, read_claims
from wanbuild.reconcile.index import RemoteIndex
from wanbuild.reconcile.lease import Gate, holder_of
from wanbuild.reconcile.lockfile import LockFile, lineage_dir
from wanbuild.reconcile.observe import api_of, observe
from wanbuild.reconcile.shared_state import Marker, lease_ref, pull
from wanbuild.remote.service import Service
from wanbuild.spec.endpoint import Backend, Region
from wanbuild.spec.state import Desired, Observed, TargetSpec
from wanbuild.store import Store
from wanbuild.versioning.gitrefs import GitRefsError, GitRemote

if TYPE_CHECKING:
    from wanbuild.config.load import LoadedEffect


@dataclass
class Item:
    directory: Path
    effect_file: str  # as the user reads it
    conf_dir: Path
    project: Path  # where build/ and .wanbuild/ live
    spec: TargetSpec
    client: Service
    built: Desired | None = None
    index: RemoteIndex | None = None  # the session's one listing of the remote, per client
    # the project's claims as read at most every 30 s, shared by the session's effects of the
    # project: what lookalikes are checked against, with the effect's own lock read afresh
    recent: RecentClaims | None = None
    # where the effect's lease and shared state live (None: the embedded emulator, or a
    # project that said it is applied from one machine, backend.lease=local)
    shared: Shared | None = None

    @property
    def desired(self) -> Desired:
        """The desired state; only sessions opened with build=True (plan, apply) have it."""
        assert self.built is not None, "this session was opened without building"
        return self.built

    @property
    def store(self) -> Store:
        return Store.for_project(self.project)

    @property
    def lock(self) -> LockFile:
        mirror = lineage_dir(self.project)
        return LockFile(self.directory, self.spec.effect, self.spec.target, mirror)

    def gate(self, say: Callable[[str], None], timeout: float, command: str) -> Gate | None:
        """The effect's lease, to take before its first create (None: none is needed)."""
        if self.shared is None:
            return None
        return self.shared.gate(
            self.project, self.directory, self.spec, say=say, timeout=timeout, command=command
        )

    def locked(self, gate: Gate | None) -> LockFile:
        """The effect's lock, its writes published under `gate` once it is held."""
        mirror, publish = self.mirror, gate.publish if gate else None
        return LockFile(self.directory, self.spec.effect, self.spec.target, mirror, publish)

    @property
    def mirror(self) -> Path:
        return lineage_dir(self.project)

    def claims(self) -> Claims:
        """Every remote id any effect's lock in this project claims (read afresh)."""
        dirs = project_effect_dirs(self.project, [self.directory])
        return read_claims(dirs, lineage_dir(self.project))

    def observe(self) -> Observed:
        return observe(
            self.client,
            self.built or self.spec,
            self.lock,
            self.claims,
            index=self.index,
            recent=self.recent,
        )


@dataclass
class Session:
    items: list[Item]
    headers: list[str]
    real: bool  # any effect talks to the real service
    clients: list[Service] = field(default_factory=list)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass(frozen=True)
class _Opened:
    """One effect as the session found it: composed, or remembered by the plan cache."""

    directory: Path
    effect_file: str
    conf_dir: Path
    project: Path
    backend: Backend
    region: Region
    spec: TargetSpec
    desired: Desired | None


def open_session(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    build: bool = False,
    write: bool = True,
    acting: bool | None = None,
) -> Session:
    """The effects and one client per backend; `acting` (default: a build that writes, i.e.
    apply) lets the local backend resume a job whose worker died."""
    acting = (build and write) if acting is None else acting
    clients: dict[tuple[str, str, str], Service] = {}
    indexes: dict[tuple[str, str, str], RemoteIndex] = {}
    items: list[Item] = []
    recent: dict[Path, RecentClaims] = {}
    headers: list[str] = []
    real = False
    planner = _Planner(overrides, out, write) if build else None
    try:
        for effect_dir in effect_dirs:
            if planner is not None:  # plan, apply: remembered while no input changes
                o = planner.open(effect_dir)
            else:
                from wanbuild.config.load import load_effect

                loaded = load_effect(effect_dir, overrides)
                o = _opened(loaded, _build(loaded, out, write) if build else None)
            key = (o.backend.name, o.region.name, o.backend.base_url or o.region.base_url)
            if key not in clients:
                clients[key] = connect(o.backend, o.region, o.conf_dir, o.project, acting=acting)
                headers.append(describe(o.backend, o.region, o.project))
                indexes[key] = RemoteIndex(clients[key])
                if build:
                    indexes[key].load_behind([api_of(o.spec)])
            real = real or o.backend.name == "dashscope"  # paid, and not this machine
            item = Item(
                o.directory,
                o.effect_file,
                o.conf_dir,
                o.project,
                o.spec,
                clients[key],
                o.desired,
                indexes[key],
            )
            item.shared = Shared.of(o.backend)
            if o.project not in recent:
                recent[o.project] = RecentClaims(item.claims)
            item.recent = recent[o.project]
            items.append(item)
    except BaseException:
        # An effect further down failed to open: the listings already begun stop here too.
        for client in clients.values():
            client.close()
        raise
    headers += pull_shared([i for i in items if i.shared is not None])
    return Session(items, headers, real, list(clients.values()))


@dataclass(frozen=True)
class Shared:
    """The git remote that holds the effects' leases and shared state (reconcile.lease)."""

    remote_name: str
    ttl: float

    @classmethod
    def of(cls, backend: Backend) -> Shared | None:
        """Where the backend's leases live; None for the embedded emulator (one machine by
        construction) and for a project that says it is single-machine (lease: local)."""
        if backend.name == "emulator" or backend.lease == "local":
            return None
        return cls(backend.lease_remote or "origin", backend.lease_ttl or 300.0)

    def gate(
        self,
        project: Path,
        directory: Path,
        spec: TargetSpec,
        *,
        say: Callable[[str], None],
        timeout: float,
        command: str,
    ) -> Gate:
        return Gate(
            GitRemote(project, self.remote_name),
            spec.effect,
            self.ttl,
            Store.for_project(project).root,
            lambda: LockFile(directory, spec.effect, spec.target, lineage_dir(project)),
            say=say,
            timeout=timeout,
            command=command,
        )


def _prefixed(lines: list[str], effect: str) -> Callable[[str], None]:
    return lambda text: lines.append(f"{effect}: {text}")


def say_to(out: TextIO, effect: str) -> Callable[[str], None]:
    """A line about `effect` printed to `out` (what a lease says while it is taken)."""
    return lambda text: print(f"{effect}: {text}", file=out, flush=True)


def confirm(out: TextIO, question: str, why: str) -> bool:
    """Ask `question` on a terminal (answered "yes" or not); with no terminal, an error
    saying `why` it asks and that --yes skips the question."""
    if not sys.stdin.isatty():
        raise WanbuildError(f"{why}: confirm on a terminal or pass --yes")
    print(f"{question} Type yes: ", end="", file=out, flush=True)
    return sys.stdin.readline().strip().lower() == "yes"


def pull_shared(items: list[Item]) -> list[str]:
    """Bring each effect's wanbuild.lock up to date from the shared state (one fetch per
    project and remote); what was done, or why it could not be, as header lines. Not being
    able to read it is no error here: apply refuses to create without its lease anyway."""
    lines: list[str] = []
    groups: dict[tuple[Path, str], list[Item]] = {}
    for item in items:
        assert item.shared is not None
        groups.setdefault((item.project, item.shared.remote_name), []).append(item)
    for (project, name), group in groups.items():
        remote = GitRemote(project, name)
        try:
            url = remote.url()
            refs = remote.fetch()
            for item in group:
                marker = Marker(item.store.root, item.spec.effect, url)
                say = _prefixed(lines, item.spec.effect)
                pull(remote, refs, item.lock, marker, say)
                held = refs.get(lease_ref(item.spec.effect))
                holder = holder_of(remote, held) if held else None
                if holder is not None and holder.expires > time.time():
                    say(
                        f"being applied now by {holder.describe()}: what it has not recorded "
                        "yet shows below as unrecorded or absent; apply waits for its lease"
                    )
                elif holder is not None:
                    say(
                        f"its lease, left by {holder.describe()}, has expired: the next "
                        "apply takes it over"
                    )
        except GitRefsError as e:
            lines.append(
                f"shared state: cannot read git remote {name!r} ({e}); this checkout's "
                "wanbuild.lock is all that is known"
            )
    return lines


def _opened(loaded: LoadedEffect, desired: Desired | None) -> _Opened:
    from wanbuild.core.target import target_spec

    e = loaded.effect
    return _Opened(
        e.directory,
        loaded.effect_file,
        loaded.conf_dir,
        loaded.project,
        e.backend,
        e.region,
        target_spec(e),
        desired,
    )


class _Planner:
    """The desired state of each effect: from the plan cache while its stat key holds, else
    composed and built afresh (and remembered). `write` (apply): the zips must be on disk, so
    a state remembered by a plan that did not write them is built now. Lookups shared by
    effects are made once per run."""

    def __init__(self, overrides: list[str], out: TextIO, write: bool) -> None:
        self.overrides, self.out, self.write = overrides, out, write
        self.keys = plan_cache.StatKeys(overrides)
        self._places: dict[Path, tuple[Path, Path]] = {}
        self._cwd = Path.cwd().resolve()

    def _place(self, directory: Path) -> tuple[Path, Path]:
        """(project, conf dir), searched upwards once per parent directory."""
        if directory.parent not in self._places:
            self._places[directory.parent] = (project_root(directory), find_conf_dir(directory))
        return self._places[directory.parent]

    def _shown(self, path: Path) -> str:
        """`path` (resolved) as config.load.display shows it, the working directory known."""
        return str(path.relative_to(self._cwd)) if path.is_relative_to(self._cwd) else str(path)

    def open(self, effect_dir: Path) -> _Opened:
        directory = effect_dir.resolve()
        project, conf = self._place(directory)
        store_root = Store.for_project(project).root
        build_dir = project / "build" / directory.name
        hit = plan_cache.load(store_root, directory, self.keys.key(directory, conf, build_dir))
        if hit is None or (self.write and not hit.desired.built):
            from wanbuild.config.load import load_effect  # composing: only when inputs changed

            loaded = load_effect(effect_dir, self.overrides)
            hit = plan_cache.planned(loaded, _build(loaded, self.out, write=self.write))
            # keyed after the build: what it wrote is part of the key
            plan_cache.save(store_root, directory, self.keys.key(directory, conf, build_dir), hit)
        return _Opened(
            directory,
            self._shown(directory / "effect.yaml"),
            conf,
            project,
            hit.backend,
            hit.region,
            hit.spec,
            hit.desired,
        )


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
