"""Lineage that reproduces: an append-only history in wanbuild.lock keyed by input
fingerprints, the commit whose tree held those inputs, `wanbuild log`, and rollback by checkout
that reuses the job already trained. A real git repository in a temp dir."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import Run
from tests.emulator_helpers import census, local_remote
from tests.helpers import write_effect


@pytest.fixture(autouse=True)
def fast_emulator(monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "1e7")
    monkeypatch.delenv("WANBUILD_EMULATOR_FAULTS", raising=False)


def git(cwd: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def set_epochs(d: Path, n: int) -> None:
    doc = yaml.safe_load((d / "effect.yaml").read_text())
    doc["hyper_parameters"] = {"n_epochs": n}
    (d / "effect.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def history(d: Path) -> list[dict[str, object]]:
    lock = json.loads((d / "wanbuild.lock").read_text())
    return list(lock["targets"]["emulator/cn-beijing"]["history"])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / ".gitignore").write_text(".wanbuild/\nbuild/\n")
    return tmp_path


def test_history_names_the_commit_of_the_inputs_and_rollback_reuses_the_trained_job(
    repo: Path, run: Callable[..., Run]
) -> None:
    d = write_effect(repo, "fx")
    first = commit_all(repo, "fx")
    assert run("apply", "--wait", str(d)).code == 0
    commit_all(repo, "lineage")  # the lock, committed as CI does after apply
    set_epochs(d, 500)
    second = commit_all(repo, "fx: 500 epochs")
    assert run("apply", "--wait", str(d)).code == 0
    commit_all(repo, "lineage")
    assert [h["commit"] for h in history(d)] == [first, second]  # never "+dirty"
    with local_remote(repo) as c:
        trained_first = history(d)[0]["finetuned_output"]
        assert trained_first is not None

    git(repo, "checkout", "-q", first)  # the whole tree, the lock included, as it was
    planned = run("plan", str(d))
    assert "rollback to an already-trained model (no retrain)" in planned.out
    assert f"rollback to {first}" in planned.out
    assert "+ train" not in planned.out
    assert "drifted" not in planned.out
    assert run("apply", "--wait", str(d)).code == 0
    assert census(repo) == {"files": 1, "jobs": 2, "deployments": 1}
    with local_remote(repo) as c:
        [live] = [x for x in c.iter_deployments() if x.status != "DELETING"]
    assert live.model_name == trained_first
    records = history(d)
    assert [h["commit"] for h in records] == [first, second, first]
    log = run("log", str(d)).out.splitlines()
    assert log[1].split()[1] == first[:12]
    assert log[1].endswith("<- live")
    assert second[:12] in log[2]


def test_uncommitted_inputs_get_their_commit_once_committed(
    repo: Path, run: Callable[..., Run]
) -> None:
    d = write_effect(repo, "fx")
    commit_all(repo, "fx")
    set_epochs(d, 500)  # not committed
    assert run("apply", "--wait", str(d)).code == 0
    assert history(d)[-1]["commit"] is None
    assert "(uncommitted)" in run("log", str(d)).out
    inputs = commit_all(repo, "fx: 500 epochs")
    assert run("apply", "--wait", str(d)).code == 0
    assert [h["commit"] for h in history(d)] == [inputs]


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    """A git + DVC project whose effect's media are DVC-tracked, with a local remote."""
    from tests.test_dvc_pipeline import dvc_project

    dvc_project(tmp_path / "proj", tmp_path / "remote")
    return tmp_path / "proj"


def test_reproduce_two_commits_later_rebuilds_verifies_and_trains_once(
    dvc_repo: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dvc_repo
    monkeypatch.chdir(root)
    d = root / "effects" / "fx"
    first = commit_all(root, "fx")
    assert run("apply", "--wait", str(d)).code == 0
    commit_all(root, "lineage")
    for n in (450, 500):  # two later changes, each applied
        set_epochs(d, n)
        commit_all(root, f"fx: {n} epochs")
        applied = run("apply", "--wait", str(d))
        assert applied.code == 0, applied.out + applied.err
        commit_all(root, "lineage")
    original = history(d)[0]
    dry = run("reproduce", first, str(d), "--dry-run")
    assert dry.code == 0, dry.err
    assert f"dataset {str(original['dataset'])[:16]} verified" in dry.out
    assert "would upload 1 zip(s) and create 1 job" in dry.out
    assert census(root)["jobs"] == 3
    done = run("reproduce", first, str(d))
    assert done.code == 0, done.err
    assert census(root)["jobs"] == 4  # exactly one new job
    last = history(d)[-1]
    assert last["reproduction_of"] == first
    assert last["dataset"] == original["dataset"]
    assert last["hyper_parameters"] == original["hyper_parameters"]
    with local_remote(root) as c:
        job = c.get_job(str(last["job_id"]))
    assert job.hyper_parameters.get("n_epochs") == 400


def test_reproduce_says_when_the_media_are_gone(
    dvc_repo: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    root = dvc_repo
    monkeypatch.chdir(root)
    d = root / "effects" / "fx"
    first = commit_all(root, "fx")
    assert run("apply", "--wait", str(d)).code == 0
    shutil.rmtree(root / ".dvc" / "cache")  # never pushed, and the cache is gone
    result = run("reproduce", first, str(d), "--dry-run")
    assert result.code == 1
    assert f"the media at {first[:12]} are not retrievable" in result.err
