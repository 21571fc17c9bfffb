"""Helpers for emulator tests: a real `wanbuild emulator serve` process, an in-process app with a
hand-moved clock, and built dataset zips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import write_effect
from wanbuild.config.catalog import load_catalog
from wanbuild.config.load import load_effect
from wanbuild.dataset.builder import build_effect
from wanbuild.emulator.app import create_app
from wanbuild.emulator.clock import ManualClock
from wanbuild.emulator.faults import Faults
from wanbuild.emulator.profile import TYPICAL, Profile
from wanbuild.remote.client import Client
from wanbuild.remote.transport import InProcessTransport
from wanbuild.store import Store

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"
BEIJING = "https://dashscope.aliyuncs.com"


@contextmanager
def served(state_dir: Path, *extra: str, time_scale: float = 1e6) -> Iterator[str]:
    """`wanbuild emulator serve` on a free loopback port; yields its base URL."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wanbuild",
            "emulator",
            "serve",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            "--time-scale",
            str(time_scale),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    port = None
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while port is None:
        line = proc.stderr.readline()
        lines.append(line)
        if (not line and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError("emulator did not start:\n" + "".join(lines))
        match = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
    drain = threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        drain.join(timeout=10)
        proc.stderr.close()


def in_process(
    state_dir: Path,
    faults: Faults | None = None,
    clock: ManualClock | None = None,
    profile: Profile = TYPICAL,
) -> tuple[Client, ManualClock]:
    clock = clock or ManualClock()
    app = create_app(state_dir, load_catalog(CONF), clock=clock, faults=faults, profile=profile)
    client = Client(
        BEIJING, "sk-test-key", transport=InProcessTransport(app), backoff=0.001, max_backoff=0.01
    )
    return client, clock


def built_zip(
    root: Path, kind: str = "i2v", n_train: int = 6, n_validation: int = 0, name: str = "fx"
) -> Path:
    d = write_effect(root, name, kind, n_train=n_train, n_validation=n_validation)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        build_effect(load_effect(d, []), Store(root / ".wanbuild"), out_root=root / "build")
    finally:
        os.chdir(cwd)
    return root / "build" / name / "train.zip"


def local_remote(root: Path, time_scale: float = 1e7) -> Client:
    """A client on the emulator state an apply run in `root` used."""
    app = create_app(root / ".wanbuild/emulator", load_catalog(CONF), time_scale=time_scale)
    return Client(BEIJING, "k", transport=InProcessTransport(app))


def census(root: Path, time_scale: float = 1e7) -> dict[str, int]:
    """How many uploads, jobs and live deployments the emulator in `root` holds (read under
    the typical profile, whose lists show everything at once)."""
    with local_remote(root, time_scale) as c:
        return {
            "files": len(c.list_files(api="native")),
            "jobs": len(list(c.iter_jobs())),
            "deployments": len([d for d in c.iter_deployments() if d.status != "DELETING"]),
        }


def apply_env(time_scale: str, **extra: str) -> dict[str, str]:
    """The environment for an apply subprocess: no inherited WANBUILD_* settings but the
    emulator profile the test runs under."""
    keep = {"WANBUILD_EMULATOR_PROFILE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANBUILD_") or k in keep}
    return {**env, "WANBUILD_EMULATOR_TIME_SCALE": time_scale, **extra}
