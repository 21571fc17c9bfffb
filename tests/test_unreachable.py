"""Offline or with a wrong key, every remote command says what it is doing within seconds and
fails with exit 1; nothing hangs in silence."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.emulator_helpers import served


def record_a_job(effect_dir: Path) -> None:
    """A lock that records remote objects, so that every command has something to look up."""
    entry = {
        "job": {"job_id": "ft-202601010000-abcd", "fingerprint": "x"},
        "deployment": {"deployed_model": "wan2.2-i2v-flash-abc", "fingerprint": "y"},
    }
    doc = {"format": 1, "effect": effect_dir.name, "targets": {"dashscope/cn-beijing": entry}}
    (effect_dir / "wanbuild.lock").write_text(json.dumps(doc), encoding="utf-8")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wanbuild(cwd: Path, *argv: str, key: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANBUILD_")}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "wanbuild", *argv],
        cwd=cwd,
        env={**env, "DASHSCOPE_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.monotonic() - started


@pytest.mark.parametrize("command", ["status", "plan", "apply", "destroy"])
def test_offline_says_it_is_retrying_and_exits_1(
    effect_factory: Callable[..., Path], tmp_path: Path, command: str
) -> None:
    d = effect_factory()
    record_a_job(d)
    url = f"http://127.0.0.1:{closed_port()}"
    argv = [command, str(d), "backend=dashscope", f"backend.base_url={url}"]
    proc, elapsed = wanbuild(
        tmp_path, *argv, *(["--yes"] if command in ("apply", "destroy") else []), key="k"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("retrying GET /api/v1/")
    assert "(attempt 2/5)" in lines[0]
    assert f"cannot reach {url} (ConnectError)" in lines[0]
    assert lines[-1].startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert elapsed < 30  # 4 retries with backoff, not minutes


def test_a_wrong_key_fails_at_once_with_the_services_message(
    effect_factory: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = effect_factory()
    monkeypatch.setenv("EMULATOR_KEY", "sk-" + "right" * 4)
    record_a_job(d)
    with served(tmp_path / "cloud", "--api-key-env", "EMULATOR_KEY") as url:
        argv = ["status", str(d), "backend=dashscope", f"backend.base_url={url}"]
        proc, _ = wanbuild(tmp_path, *argv, key="sk-" + "wrong" * 4)
        right, _ = wanbuild(tmp_path, *argv, key="sk-" + "right" * 4)
    assert proc.returncode == 1
    assert "401 InvalidApiKey: Invalid API-key provided." in proc.stderr
    assert "retrying" not in proc.stderr
    assert right.returncode == 0, right.stderr
    assert "ft-202601010000-abcd recorded, not on the service" in right.stdout
