"""Real git + real DVC in a temp repo: the pipeline builds, is clean after, and sees edits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.helpers import write_effect
from wanbuild.demo import generate

REPO = Path(__file__).resolve().parent.parent
PIPELINE = """\
stages:
  build:
    foreach:
      - money_rain
      - character_portrait
    do:
      cmd: wanbuild build effects/${item}
      deps:
        - conf
        - effects/${item}/effect.yaml
        - effects/${item}/samples.yaml
        - effects/${item}/media
      outs:
        - build/${item}
"""


def sh(repo: Path, *argv: str) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(repo.parent / "dvc-site"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def dvc_project(root: Path, remote: Path) -> Path:
    """A git + DVC project in `root` (branch main, nothing committed) holding one effect `fx`
    whose media are `dvc add`ed, with `remote` as its local-directory DVC remote."""
    root.mkdir()
    d = write_effect(root, "fx")
    (root / ".gitignore").write_text(".wanbuild/\nbuild/\n")
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "remote", "add", "-d", "storage", str(remote))
    sh(root, "dvc", "add", "-q", str(d / "media"))
    return d


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "conf", root / "conf")
    for name in ("money_rain", "character_portrait"):
        for f in ("effect.yaml", "samples.yaml"):
            (root / "effects" / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / "effects" / name / f, root / "effects" / name / f)
        generate(root / "effects" / name)
    (root / "dvc.yaml").write_text(PIPELINE)
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "config", "core.analytics", "false")
    sh(root, "dvc", "add", "-q", "effects/money_rain/media", "effects/character_portrait/media")
    return root


def stale(repo: Path) -> set[str]:
    out = sh(repo, "dvc", "status")
    return {
        line.rstrip(":").strip()
        for line in out.splitlines()
        if line and not line.startswith("\t") and line.rstrip().endswith(":")
    }


def test_repro_builds_then_status_is_clean_and_sees_one_caption(repo: Path) -> None:
    sh(repo, "dvc", "repro", "-q")
    for name in ("money_rain", "character_portrait"):
        assert (repo / "build" / name / "train.zip").is_file()
        assert (repo / "build" / name / "manifest.json").is_file()
    assert "build@money_rain" in (repo / "dvc.lock").read_text()
    assert "Data and pipelines are up to date" in sh(repo, "dvc", "status")
    samples = repo / "effects/money_rain/samples.yaml"
    samples.write_text(samples.read_text().replace("appearing rustic and natural", "looking old"))
    assert stale(repo) == {"build@money_rain"}
    sh(repo, "dvc", "repro", "-q")
    assert "Data and pipelines are up to date" in sh(repo, "dvc", "status")


def test_init_adds_the_effect_to_the_pipeline(
    repo: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    result = run("init", "effects/dolly_zoom", "--model", "wan2.2-i2v-flash")
    assert result.code == 0, result.err
    assert "added build@dolly_zoom to dvc.yaml" in result.out
    text = (repo / "dvc.yaml").read_text()
    assert "      - character_portrait\n      - dolly_zoom\n" in text
    assert "cmd: wanbuild build effects/${item}" in text


def test_the_committed_dvc_lock_matches_the_code_and_conf_it_records() -> None:
    """A fresh clone's `dvc repro` must leave dvc.lock clean: every dependency recorded there
    that is part of the repository (conf/, effect.yaml, samples.yaml, the generator) still has
    the recorded hash. Media and zips are not in a clone and are not checked here."""
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
        check=True,
    )
    stale = []
    for stage, changes in json.loads(proc.stdout or "{}").items():
        for change in changes:
            if not isinstance(change, dict):
                continue
            for path, state in (change.get("changed deps") or {}).items():
                if state == "modified" and "/media" not in path:
                    stale.append(f"{stage}: {path}")
    assert not stale, f"dvc.lock is stale (run `dvc repro` and commit it): {stale}"
