"""Two machines never train twice: the lease and the shared state on the project's git remote.

Real git throughout: a bare repository as the remote, clones of it as the machines, one
`wanbuild emulator serve` as the service both talk to (backend=dashscope backend.base_url=...).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator_helpers import apply_env, served
from tests.helpers import write_effect
from wanbuild.remote.client import Client

PROFILES = ["typical", "documented-minimum"]


def git(cwd: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def repository(root: Path) -> tuple[Path, Path]:
    """(a bare remote, a first clone of it holding one committed effect `fx`)."""
    remote = root / "remote.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    first = root / "laptop"
    git(root, "clone", "-q", str(remote), str(first))
    for k, v in (("user.name", "t"), ("user.email", "t@example.com")):
        git(first, "config", k, v)
    write_effect(first, "fx")
    (first / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")  # the project's root
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "an effect")
    git(first, "push", "-q", "origin", "HEAD:main")
    return remote, first


def clone(remote: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(remote), str(where))
    return where


def wanbuild(
    cwd: Path, url: str, *argv: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {**apply_env("1"), "DASHSCOPE_API_KEY": "sk-test", **(extra_env or {})}
    env.pop("WANBUILD_EMULATOR_TIME_SCALE")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wanbuild",
            *argv,
            "effects/fx",
            "backend=dashscope",
            f"backend.base_url={url}",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def census(url: str) -> dict[str, int]:
    with Client(url, "sk-test") as c:
        return {
            "jobs": len(list(c.iter_jobs())),
            "deployments": len([d for d in c.iter_deployments() if d.status == "RUNNING"]),
        }


@pytest.fixture(params=PROFILES)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with served(tmp_path / "cloud", "--profile", str(request.param)) as url:
        yield url


def test_two_machines_applying_at_once_train_once_and_a_third_plans_all_skip(
    tmp_path: Path, service: str
) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    rng = random.Random(19)
    for rep in range(1, 21):
        # each repetition asks for a retrain (the epochs change), so each must make one job
        epochs = f"++hyper_parameters.learning_rate={rep}e-5"
        offset = rng.uniform(0.0, 0.6)
        procs = []
        for i, machine in enumerate([laptop, runner] if rep % 2 else [runner, laptop]):
            if i:
                time.sleep(offset)
            procs.append(
                wanbuild(machine, service, "apply", "--wait", "--yes", "--poll", "0.05", epochs)
            )
        results = [finished(p) for p in procs]
        assert [code for code, _ in results] == [0, 0], results
        assert census(service) == {"jobs": rep, "deployments": 1}, (rep, results)
        if os.environ.get("SHOW"):
            print(results)
    # a fresh clone knows nothing but the remote: the shared state tells it what exists
    fresh = clone(remote, tmp_path / "fresh")
    code, out = finished(wanbuild(fresh, service, "plan", "++hyper_parameters.learning_rate=20e-5"))
    assert code == 0, out
    assert "brought up to date" not in out  # it had no lock of its own: nothing to reconcile
