"""Offline or with a wrong key, every remote command says what it is doing within seconds and
fails with exit 1; nothing hangs in silence."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run
from tests.emulator_helpers import served
from wanbuild.commands import session
from wanbuild.commands.session import Item, Session
from wanbuild.remote.client import Client
from wanbuild.remote.errors import TemporaryRemoteError


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
    assert lines[-1].startswith("error: "), proc.stderr
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


def test_a_request_retrying_when_its_client_closes_gives_up_and_says_nothing_more() -> None:
    """A run that ends (its error printed) while a listing begun at connect is still
    retrying in another thread: no retry line may follow the run's last line."""
    said: list[str] = []
    paused, resume = threading.Event(), threading.Event()
    errors: list[TemporaryRemoteError] = []

    def pause(_: float) -> None:
        paused.set()
        resume.wait(10)

    client = Client(
        f"http://127.0.0.1:{closed_port()}", "k", max_retries=4, sleep=pause, on_retry=said.append
    )

    def listing() -> None:
        try:
            client.list_jobs()
        except TemporaryRemoteError as e:
            errors.append(e)

    behind = threading.Thread(target=listing)
    behind.start()
    assert paused.wait(10)  # the first attempt failed, said so, and waits to retry
    client.close()
    resume.set()
    behind.join(10)
    assert not behind.is_alive()
    assert len(said) == 1
    assert said[0].startswith("retrying GET /api/v1/fine-tunes")
    assert client.retries == 0  # no second attempt after the close
    assert len(errors) == 1
    assert "cannot reach" in str(errors[0])


@pytest.mark.parametrize("command", ["status", "plan", "apply", "destroy"])
def test_a_failed_run_closes_its_clients_before_it_says_error(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """Closed, a client's retries still under way in another thread stop without a word; so
    the run's error stays its last line."""
    d = effect_factory()
    module = importlib.import_module(f"wanbuild.commands.{command}")
    sessions: list[Session] = []

    def opened(*args: Any, **kwargs: Any) -> Session:
        sessions.append(session.open_session(*args, **kwargs))
        return sessions[-1]

    def unreachable(self: Item) -> None:
        assert all(not c.closed for c in sessions[0].clients)  # open while the run works
        raise TemporaryRemoteError("GET /api/v1/fine-tunes: cannot reach the service")

    monkeypatch.setattr(module, "open_session", opened)
    monkeypatch.setattr(Item, "observe", unreachable)
    result = run(command, str(d), *(["--yes"] if command in ("apply", "destroy") else []))
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith("error: GET /api/v1/fine-tunes: cannot reach")
    assert len(sessions) == 1
    assert sessions[0].clients
    assert all(c.closed for c in sessions[0].clients)


def test_an_effect_that_fails_to_open_closes_the_clients_opened_before_it(
    effect_factory: Callable[..., Path], run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = effect_factory("a_good")
    bad = effect_factory("b_bad")
    (bad / "effect.yaml").write_text("model: [unclosed\n", encoding="utf-8")
    clients: list[Client] = []

    def connect(*args: Any, **kwargs: Any) -> Client:
        clients.append(real_connect(*args, **kwargs))
        return clients[-1]

    real_connect = session.connect
    monkeypatch.setattr(session, "connect", connect)
    result = run("plan", str(good), str(bad))
    assert result.code == 1
    assert "b_bad/effect.yaml" in result.err
    assert len(clients) == 1  # the good effect's, listing behind since it connected
    assert clients[0].closed


def test_closing_a_client_wakes_a_retry_waiting_out_its_backoff() -> None:
    said: list[str] = []
    announced = threading.Event()

    def say(line: str) -> None:
        said.append(line)
        announced.set()

    client = Client(
        f"http://127.0.0.1:{closed_port()}",
        "k",
        backoff=60,
        jitter=lambda: 1.0,
        on_retry=say,
    )
    behind = threading.Thread(target=lambda: suppress_remote(client.list_jobs))
    behind.start()
    assert announced.wait(10)
    assert len(said) == 1
    assert "in 30.0 s" in said[0]  # waiting half a minute before its second attempt
    client.close()
    behind.join(5)  # woken by the close, not after the half minute
    assert not behind.is_alive()
    assert client.retries == 0


def suppress_remote(call: Callable[[], object]) -> None:
    with contextlib.suppress(TemporaryRemoteError):
        call()
