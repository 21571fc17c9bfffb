"""Which commit holds an effect's inputs (versioning.git): one `git status` for every effect of
a repository, in a real repository, and its pure rules on their own."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from wanbuild.versioning.git import inputs_commits, porcelain_paths, uncommitted


def git(cwd: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def repo(root: Path) -> str:
    for d in ("effects/a", "effects/b", "conf"):
        (root / d).mkdir(parents=True)
        (root / d / "x.yaml").write_text("1\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return git(root, "rev-parse", "HEAD")


def effects(root: Path) -> dict[str, tuple[list[Path], list[Path]]]:
    return {
        name: (
            [root / "effects" / name, root / "conf"],
            [root / "effects" / name / "wanbuild.lock"],
        )
        for name in ("a", "b")
    }


def test_each_effect_is_named_by_head_only_while_its_inputs_are_committed(tmp_path: Path) -> None:
    head = repo(tmp_path)
    assert inputs_commits(tmp_path, effects(tmp_path)) == {"a": head, "b": head}
    (tmp_path / "effects/a/wanbuild.lock").write_text("{}")  # apply's own file: not an input
    (tmp_path / "effects/b/new.jpg").write_bytes(b"\xff")  # untracked media: an input
    assert inputs_commits(tmp_path, effects(tmp_path)) == {"a": head, "b": None}
    (tmp_path / "conf/x.yaml").write_text("2\n")  # conf/ is every effect's input
    assert inputs_commits(tmp_path, effects(tmp_path)) == {"a": None, "b": None}


def test_asked_from_a_subdirectory_paths_are_still_matched(tmp_path: Path) -> None:
    head = repo(tmp_path)
    (tmp_path / "effects/a/x.yaml").write_text("2\n")
    found = inputs_commits(tmp_path / "effects", effects(tmp_path))
    assert found == {"a": None, "b": head}


def test_outside_a_repository_nothing_is_named(tmp_path: Path) -> None:
    (tmp_path / "effects/a").mkdir(parents=True)
    assert inputs_commits(tmp_path, effects(tmp_path)) == {"a": None, "b": None}


def test_porcelain_names_both_sides_of_a_rename() -> None:
    status = " M effects/a/x.yaml\0R  effects/b/new.yaml\0effects/b/old.yaml\0?? conf/y.yaml\0"
    assert porcelain_paths(status) == [
        "effects/a/x.yaml",
        "effects/b/new.yaml",
        "effects/b/old.yaml",
        "conf/y.yaml",
    ]


def test_a_change_counts_for_the_effects_whose_inputs_hold_it_and_not_their_exclusions() -> None:
    P = PurePosixPath
    named = {
        "a": ([P("effects/a"), P("conf")], [P("effects/a/wanbuild.lock")]),
        "ab": ([P("effects/ab"), P("conf")], [P("effects/ab/wanbuild.lock")]),
    }
    assert uncommitted([P("effects/a/wanbuild.lock")], named) == set()
    assert uncommitted([P("effects/ab/s.yaml")], named) == {"ab"}  # not a prefix match
    assert uncommitted([P("conf/region/x.yaml")], named) == {"a", "ab"}
