"""Wire a client to the chosen backend: the embedded emulator (in-process, no key) or the real
service (DASHSCOPE_API_KEY; `backend.base_url` may point at any URL, e.g. a running
`wanbuild emulator serve`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from wanbuild.config.catalog import (
    Catalog,
    catalog_document,
    catalog_from_document,
    load_catalog,
)
from wanbuild.config.places import display
from wanbuild.core.fingerprint import digest
from wanbuild.errors import ConfigError
from wanbuild.remote.client import Client
from wanbuild.remote.service import Service
from wanbuild.spec.endpoint import Backend, Region
from wanbuild.store import Store

EMULATOR_KEY = "sk-emulator"
ENV_KEY = "DASHSCOPE_API_KEY"
ENV_TIME_SCALE = "WANBUILD_EMULATOR_TIME_SCALE"
ENV_FAULTS = "WANBUILD_EMULATOR_FAULTS"
ENV_PROFILE = "WANBUILD_EMULATOR_PROFILE"
# How long a create whose reply was lost may take to show up in the service's list calls
# before wanbuild concludes it never happened (the docs give no figure; lists may lag).
REAL_SETTLE_S = 120.0


def emulator_state(backend: Backend, project: Path) -> Path:
    """The emulator's state directory: backend.state_dir, relative to the project."""
    return project / (backend.state_dir or ".wanbuild/emulator")


def local_root(backend: Backend, project: Path) -> Path:
    return project / (backend.state_dir or ".wanbuild/local")


def library_dir(backend: Backend, project: Path) -> Path:
    return project / (backend.library_dir or ".wanbuild/local/library")


def _local(
    backend: Backend, conf_dir: Path, project: Path, notify: Callable[[str], None], acting: bool
) -> Service:
    from wanbuild.local.service import LocalModel, LocalService

    catalog = _catalog(conf_dir, project)

    def model(name: str) -> LocalModel | None:
        m = catalog.models.get(name)
        facts = (m.document.get("local") if m else None) or None
        if m is None or facts is None:
            return None
        return LocalModel(name, float(facts["fps"]), bool(facts.get("two_experts")))

    return LocalService(
        local_root(backend, project),
        library_dir(backend, project),
        model,
        acting=acting,
        num_processes=int(backend.num_processes or 1),
        project=project,
        notify=notify,
    )


def profile_of(backend: Backend) -> str:
    return os.environ.get(ENV_PROFILE) or backend.profile or "typical"


def describe(backend: Backend, region: Region, project: Path) -> str:
    if backend.name == "local":
        return (
            f"backend: this machine (local training; state in "
            f"{display(local_root(backend, project))}, LoRAs published to "
            f"{display(library_dir(backend, project))})"
        )
    if backend.name == "emulator":
        return (
            f"backend: the embedded emulator ({region.name}, profile {profile_of(backend)}, "
            "state in "
            f"{display(emulator_state(backend, project))}); nothing is sent to Model Studio"
        )
    return f"backend: Model Studio at {backend.base_url or region.base_url} ({region.name})"


def _catalog(conf_dir: Path, project: Path) -> Catalog:
    """The emulator's catalog of models and regions, remembered as JSON under the stat of
    every file of conf/ and wanbuild's version: a run whose inputs are unchanged reads no
    YAML (and a model's spec, validated when conf/ was read, is validated again only when
    the emulator uses it)."""
    from wanbuild import __version__
    from wanbuild.dataset.statwalk import tree_stats

    key = digest(
        {
            "format": 1,
            "wanbuild": __version__,
            "conf": str(conf_dir),
            "stats": tree_stats(conf_dir),
        }
    )
    path = Store.for_project(project).root / "cache" / "catalog.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("key") == key:
            return catalog_from_document(doc["catalog"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    catalog = load_catalog(conf_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "catalog": catalog_document(catalog)}), "utf-8")
    os.replace(tmp, path)
    return catalog


def time_scale(backend: Backend) -> float:
    raw = os.environ.get(ENV_TIME_SCALE)
    try:
        return float(raw) if raw else float(backend.time_scale or 1.0)
    except ValueError:
        raise ConfigError(f"{ENV_TIME_SCALE}={raw!r}: not a number") from None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def connect(
    backend: Backend,
    region: Region,
    conf_dir: Path,
    project: Path,
    notify: Callable[[str], None] = _stderr,
    *,
    acting: bool = False,
) -> Service:
    """The backend's door. `acting` (apply, reproduce): the local backend resumes a job whose
    worker has died when it looks at it; plan and status only report it."""
    if backend.name == "local":
        return _local(backend, conf_dir, project, notify, acting)
    if backend.name == "emulator":
        from wanbuild.emulator.app import create_app
        from wanbuild.emulator.faults import Faults
        from wanbuild.emulator.profile import profile_named
        from wanbuild.remote.transport import InProcessTransport

        try:
            faults = Faults.parse(os.environ.get(ENV_FAULTS))
            profile = profile_named(profile_of(backend))
        except ValueError as e:
            raise ConfigError(f"{ENV_FAULTS} / backend.profile: {e}") from None
        scale = time_scale(backend)
        app = create_app(
            emulator_state(backend, project),
            _catalog(conf_dir, project),
            region=region.name,
            time_scale=scale,
            faults=faults,
            profile=profile,
        )
        return Client(
            region.base_url,
            EMULATOR_KEY,
            transport=InProcessTransport(app),
            backoff=0.05,
            max_backoff=0.5,
            settle_s=profile.list_lag_s / scale + 0.5,
        )
    key = os.environ.get(ENV_KEY, "").strip()
    if not key:
        raise ConfigError(f"backend=dashscope needs an API key for {region.name}: set {ENV_KEY}")
    return Client(
        backend.base_url or region.base_url,
        key,
        workspace=backend.workspace,
        max_retries=4,
        settle_s=REAL_SETTLE_S,
        on_retry=notify,
    )
