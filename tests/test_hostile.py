"""Hostile or broken input never hurts: bounded YAML, duplicate keys, encodings, damaged locks,
symlink loops, unsafe names; and the remote commands that need no dataset work without media.
Every case answers within seconds with exit 1 and a message naming the thing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.emulator_helpers import census

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(12)
)


@pytest.fixture(autouse=True)
def fast_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "1e7")


def fails(result: Run, *parts: str) -> None:
    text = result.out + result.err
    assert result.code == 1, text
    assert "Traceback" not in text
    assert "a bug in wanbuild" not in text
    for part in parts:
        assert part in text, text


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("samples.yaml", BILLION_LAUGHS, "more than 64 alias references"),
        ("effect.yaml", BILLION_LAUGHS, "more than 64 alias references"),
        (
            "samples.yaml",
            "train:\n  - id: s01\n    subject: a\n    subject: b\n",
            "line 4: key 'subject' is given twice (first on line 3)",
        ),
        ("effect.yaml", "trigger: a\ntrigger: b\n", "key 'trigger' is given twice"),
        ("samples.yaml", "\ufefftrain: []\n", "byte-order mark"),
        ("samples.yaml", b"train: [caf\xe9]\n", "line 1: byte 0xe9 is not UTF-8"),
        ("samples.yaml", "train: [\n", "not valid YAML"),
    ],
    ids=["laughs-samples", "laughs-effect", "dup-sample", "dup-effect", "bom", "latin1", "broken"],
)
def test_bad_yaml_is_refused_quickly_with_the_line(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    name: str,
    content: str | bytes,
    says: str,
) -> None:
    d = effect_factory()
    path = d / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    started = time.monotonic()
    fails(run("validate", str(d)), f"{name}", says)
    assert time.monotonic() - started < 10


def test_an_oversized_file_is_refused_before_it_is_parsed(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    with (d / "samples.yaml").open("a", encoding="utf-8") as f:
        f.write("# " + "x" * (9 * 1024 * 1024) + "\n")
    fails(run("validate", str(d)), "samples.yaml", "over the 8,388,608 a wanbuild file may hold")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('<<<<<<< HEAD\n{"targets": {}}\n=======\n{}\n>>>>>>> b\n', "merge-conflict markers"),
        ("", "is empty"),
        ('{"targets": {}, "targets": {}}', "key 'targets' appears twice"),
        ("[1, 2]", "not a wanbuild lock"),
    ],
    ids=["conflict", "empty", "duplicate", "not-a-lock"],
)
def test_a_damaged_lock_is_a_user_error_and_nothing_is_created(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    content: str,
    says: str,
) -> None:
    d = effect_factory()
    (d / "wanbuild.lock").write_text(content, encoding="utf-8")
    fails(run("apply", "--wait", str(d)), "wanbuild.lock", says, "git checkout")
    fails(run("status", str(d)), says)
    emulator = tmp_path / ".wanbuild" / "emulator"
    assert not emulator.exists() or census(tmp_path) == {"files": 0, "jobs": 0, "deployments": 0}


def test_a_symlink_loop_in_media_is_named(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    (d / "media" / "s01.jpg").unlink()
    (d / "media" / "s01.jpg").symlink_to("s01.jpg")
    fails(run("validate", str(d)), "train[0] (id s01).first_frame", "a symlink loop")


def test_remote_commands_work_without_the_media(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    """A fresh clone without media can still see, inspect and undeploy what is live."""
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    shutil.rmtree(d / "media")
    shutil.rmtree(tmp_path / "build")
    status = run("status", str(d))
    assert status.code == 0, status.out + status.err
    assert "SUCCEEDED" in status.out
    checkpoints = run("checkpoints", str(d))
    assert checkpoints.code == 0, checkpoints.err
    assert "checkpoint-400" in checkpoints.out
    destroyed = run("destroy", "--yes", "--delete-files", str(d))
    assert destroyed.code == 0, destroyed.out + destroyed.err
    assert census(tmp_path) == {"files": 0, "jobs": 1, "deployments": 0}


def test_every_command_finds_the_project_from_a_subdirectory(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = effect_factory()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # marks the project root
    monkeypatch.chdir(d / "media")
    assert run("validate").code == 0
    planned = run("plan")
    assert planned.code == 2, planned.err
    assert "fx: rebuild + upload + retrain" in planned.out
    assert run("status").code == 0
    assert run("build").code == 0
    assert (tmp_path / "build" / "fx" / "train.zip").is_file()  # the project's build/


def test_media_changed_without_dvc_add_are_named(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    from tests.test_dvc_pipeline import sh

    d = effect_factory()
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, "dvc", "init", "-q")
    sh(tmp_path, "dvc", "add", "-q", str(d / "media"))
    clean = run("validate", str(d))
    assert clean.code == 0
    assert "differ from the DVC record" not in clean.out
    time.sleep(0.01)
    shutil.copy(d / "media" / "s03.jpg", d / "media" / "s02.jpg")  # edited, not re-added
    (d / "media" / "extra.jpg").write_bytes((d / "media" / "s01.jpg").read_bytes())
    warned = run("validate", str(d))
    assert "media/extra.jpg, media/s02.jpg differ from the DVC record" in warned.out
    assert "`dvc add effects/fx/media`" in warned.out


def test_build_alone_leaves_nothing_for_git_to_commit(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    from tests.test_dvc_pipeline import sh

    d = effect_factory()
    sh(tmp_path, "git", "init", "-q")
    assert run("build", str(d)).code == 0
    untracked = sh(tmp_path, "git", "status", "--porcelain", "--untracked-files=all")
    assert untracked.splitlines()  # the effect itself is there to commit
    assert not [line for line in untracked.splitlines() if "build/" in line], untracked


def test_plan_never_writes_zips(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    planned = run("plan", str(d))
    assert planned.code == 2
    assert "needs build, ~" in planned.out
    assert not (tmp_path / "build").exists()
    assert run("apply", str(d)).code == 0
    assert (tmp_path / "build" / "fx" / "train.zip").is_file()
    assert "needs build" not in run("plan", str(d)).out


def test_plan_of_an_unchanged_effect_opens_no_media_and_no_yaml(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plan cache: keyed by the stat of every input, so a second plan composes nothing,
    parses no YAML and probes no media; any edit is seen at once."""
    from tests.helpers import edit_samples
    from wanbuild.config import load as config_load
    from wanbuild.config import safe_yaml
    from wanbuild.dataset import preflight

    d = effect_factory()
    first = run("plan", str(d))
    assert first.code == 2

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged effect was composed or probed again")

    read: list[str] = []
    real_load = safe_yaml.load

    def recorded(path: Path, shown: str) -> object:
        read.append(str(path))
        return real_load(path, shown)

    with monkeypatch.context() as m:
        m.setattr(safe_yaml, "load", recorded)
        m.setattr(config_load, "compose", forbidden)
        m.setattr(preflight, "probe_media", forbidden)
        again = run("plan", str(d))
    # nothing is read: neither the effect nor conf/ (the embedded emulator's catalog is cached)
    assert not read, read
    assert again.code == 2, again.err
    assert again.out == first.out
    edit_samples(d, "train", 0, background="standing on a windy pier.")
    changed = run("plan", "--format", "json", str(d))
    assert "windy pier" not in changed.out  # plans show actions, not captions: the fingerprint
    assert (
        json.loads(changed.out)["effects"]["fx"]["desired"]["dataset"]
        != json.loads(run("plan", "--format", "json", str(d), "samples.train.0.background=x").out)[
            "effects"
        ]["fx"]["desired"]["dataset"]
    )


def test_plan_of_an_unchanged_effect_loads_nothing_composing_needs(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    """The plan cache spares the imports too: in a process of its own, a second plan of an
    unchanged effect loads no validation, YAML, Hydra or media library."""
    d = effect_factory()
    assert run("plan", str(d)).code == 2
    probe = (
        "import sys; from wanbuild.cli import main; code = main(['plan', sys.argv[1]]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[2:])), "
        "file=sys.stderr); sys.exit(code)"
    )
    heavy = ["pydantic", "yaml", "hydra", "omegaconf", "jsonschema", "av", "PIL"]
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(d), *heavy],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_a_plan_cache_entry_this_version_cannot_read_is_composed_again(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    first = run("plan", str(d))
    entry = tmp_path / ".wanbuild" / "cache" / "plan" / "fx.json"
    doc = json.loads(entry.read_text())
    doc["backend"]["a_field_of_another_version"] = 1
    entry.write_text(json.dumps(doc))
    again = run("plan", str(d))
    assert (again.code, again.out) == (first.code, first.out), again.err
    assert "a_field_of_another_version" not in entry.read_text()  # remembered afresh


def test_apply_after_build_starts_from_what_build_made_and_plan_never_lends_unwritten_zips(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """build leaves the desired state in the plan cache, so an apply of many built effects
    composes none of them again; a plan's state, made without writing zips, is never what an
    apply uploads from."""
    from wanbuild.config import load as config_load

    d = effect_factory()
    planned = run("plan", str(d))
    assert "needs build" in planned.out
    assert not (tmp_path / "build" / "fx").exists()
    applied = run("apply", str(d))  # the plan's cached state has no zips: apply builds them
    assert applied.code == 0, applied.out + applied.err
    assert "uploading" in applied.out
    assert census(tmp_path)["files"] == 1

    other = effect_factory("other")
    assert run("build", str(other)).code == 0

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("a built, unchanged effect was composed again")

    with monkeypatch.context() as m:
        m.setattr(config_load, "compose", forbidden)
        again = run("apply", str(other))
    assert again.code == 0, again.out + again.err
    assert "uploading" in again.out
    assert census(tmp_path)["files"] == 2
