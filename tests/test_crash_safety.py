"""SIGKILL apply between any two remote calls, or hit it with faults, or run two at once:
the emulator must end up holding exactly one upload, one job and one deployment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.emulator_helpers import apply_env, census, local_remote, served
from wanbuild.reconcile.mutex import effect_mutex

POINTS = ["after_upload", "before_create_job", "after_create_job", "waiting", "after_deploy"]


@pytest.fixture(autouse=True)
def _both_profiles(profile: str) -> None:
    """Every test here runs under both emulator profiles (tests/conftest.py)."""


def apply(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    # training takes ~0.5 s at this scale, so every crash point is reached whatever the load
    full_env = apply_env("1e4", **env)
    return subprocess.run(
        [sys.executable, "-m", "wanbuild", "apply", "--wait", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def started(cwd: Path, effect: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`wanbuild apply --wait effect`, running, its output (stderr too) readable as it comes.
    Ctrl-C is given its default meaning, as at a terminal: a shell without job control starts
    background commands (a test run among them) with SIGINT ignored, and Python keeps that."""
    return subprocess.Popen(
        [sys.executable, "-m", "wanbuild", "apply", "--wait", str(effect)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_point_then_rerun(
    effect_factory: Callable[..., Path], tmp_path: Path, point: str
) -> None:
    d = effect_factory()
    killed = apply(tmp_path, str(d), WANBUILD_TEST_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    lock = (d / "wanbuild.lock").read_text() if (d / "wanbuild.lock").exists() else ""
    if point == "before_create_job":
        assert '"action": "create_job"' in lock  # the intent was on disk before the call
        # Whether the POST left is unknowable: no job appeared, so apply stops and asks.
        stopped = apply(tmp_path, str(d))
        assert stopped.returncode == 1, stopped.stdout
        assert "`wanbuild apply --forget-pending fx`" in stopped.stdout
        assert census(tmp_path)["jobs"] == 0  # the user checks the console: nothing there
        again = apply(tmp_path, "--forget-pending", str(d))
    else:
        again = apply(tmp_path, str(d))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "fx: converged" in again.stdout
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}
    assert '"intents"' not in (d / "wanbuild.lock").read_text()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_faults_at_a_high_rate_still_one_of_each(
    effect_factory: Callable[..., Path], tmp_path: Path, seed: int
) -> None:
    d = effect_factory()
    faults = f"429=0.2,500=0.1,drop_before=0.05,drop_after=0.1,seed={seed}"
    result = apply(tmp_path, str(d), WANBUILD_EMULATOR_FAULTS=faults)
    for _ in range(5):  # a job create that got no reply and left nothing: settled by the user
        if result.returncode == 0:
            break
        assert "`wanbuild apply --forget-pending fx`" in result.stdout, result.stdout
        assert census(tmp_path)["jobs"] == 0  # the console shows no job: forget it
        result = apply(tmp_path, "--forget-pending", str(d), WANBUILD_EMULATOR_FAULTS=faults)
    assert result.returncode == 0, result.stdout + result.stderr
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}


def test_every_create_reply_lost_still_one_of_each(
    effect_factory: Callable[..., Path], tmp_path: Path
) -> None:
    """Every upload, job and deployment is made but its reply is lost: each is found again
    among the objects no lock claims, and adopted; nothing is made twice."""
    d = effect_factory()
    result = apply(tmp_path, str(d), WANBUILD_EMULATOR_FAULTS="lose_post_reply=1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("adopted ") == 3, result.stdout
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}
    assert '"intents"' not in (d / "wanbuild.lock").read_text()


def test_two_concurrent_applies_never_create_two_jobs(
    effect_factory: Callable[..., Path], tmp_path: Path
) -> None:
    """Two applies of one effect started together: both wait while the effect's lock is held,
    then race for it the moment it is let go (no timing decides whether they overlap)."""
    d = effect_factory()
    env = apply_env("2e3")
    with effect_mutex(tmp_path / ".wanbuild" / "locks", "fx", timeout=1, say=print):
        procs = [started(tmp_path, d, env) for _ in range(2)]
        before = [_until_waiting(p) for p in procs]
    outputs = [b + p.communicate(timeout=300)[0] for b, p in zip(before, procs, strict=True)]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}
    assert all(f"waiting for another apply (pid {os.getpid()} " in o for o in outputs), outputs


def _until_waiting(proc: subprocess.Popen[str]) -> str:
    """The output of `proc` up to its saying it waits for the lock (or to its end)."""
    assert proc.stdout is not None
    seen = ""
    while line := proc.stdout.readline():
        seen += line
        if "waiting for another apply" in line:
            break
    return seen


def test_the_api_key_never_appears_anywhere(
    effect_factory: Callable[..., Path], tmp_path: Path
) -> None:
    key = "sk-" + "9f3c" * 8
    d = effect_factory()
    with served(tmp_path / "cloud") as url:
        common = ["backend=dashscope", f"backend.base_url={url}", "backend.lease=local"]
        env = {**os.environ, "DASHSCOPE_API_KEY": key}
        outputs = []
        for argv in (
            ["plan", str(d), *common, "--out", "plan.json", "--format", "json"],
            ["apply", "--wait", "--yes", "--poll", "0.05", str(d), *common],
            ["status", str(d), *common],
            ["apply", str(d), *common, "hyper_parameters.n_epoch=1"],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "wanbuild", *argv],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            outputs.append(proc.stdout + proc.stderr)
        assert "converged" in outputs[1], outputs[1]
    assert "backend: Model Studio at http://127.0.0.1" in outputs[1]
    for text in outputs:
        assert key not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert key.encode() not in path.read_bytes(), path
    assert re.search(r"sk-9f3c", "".join(outputs)) is None


def test_ctrl_c_stops_waiting_and_never_cancels(
    effect_factory: Callable[..., Path], tmp_path: Path
) -> None:
    d = effect_factory()
    env = apply_env("100")  # 800 steps x 6 s: about 50 s of training
    proc = started(tmp_path, d, env)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "created (PENDING)" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    assert "Stopped waiting; remote work goes on" in output
    with local_remote(tmp_path, time_scale=100) as c:
        [job] = list(c.iter_jobs())
    assert job.status in ("PENDING", "RUNNING")  # not cancelled
    again = apply(tmp_path, str(d))  # and the next apply carries on from there
    assert again.returncode == 0, again.stdout
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}
