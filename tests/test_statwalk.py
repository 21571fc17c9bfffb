"""The stat walk a plan starts in a child process while it imports: the same keys as walking
in the parent, each used once, the child always reaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.emulator_helpers import REPO
from tests.helpers import edit_samples, write_effect


def run_alone(script: str, tmp_path: Path) -> None:
    """`script` in a fresh interpreter: the walk forks only while a process runs one thread,
    and a test process has others (earlier tests' emulator loops)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def make_dirs(root: Path, n: int) -> list[Path]:
    dirs = []
    for i in range(n):
        d = root / f"fx_{i}"
        (d / "media").mkdir(parents=True)
        for j in range(5):
            (d / "media" / f"{j}.jpg").write_bytes(b"x" * (i + j))
        (d / "wanbuild.lock").write_text("not part of any key")
        dirs.append(d)
    return dirs


def test_a_walk_ahead_gives_the_keys_walking_here_would_and_each_once(tmp_path: Path) -> None:
    make_dirs(tmp_path, 40)
    run_alone(
        """
        import os, sys
        from pathlib import Path
        from wanbuild.dataset import statwalk
        root = Path(sys.argv[1])
        dirs = sorted(root.iterdir()) + [root / "not_built_yet"]
        here = {d: statwalk._digest(str(d)) for d in dirs}
        with statwalk.ahead(lambda: dirs):
            child = statwalk._child
            assert child is not None, "no child started"
            # asked for out of order, as effects in other projects would be
            assert statwalk.tree_digest(dirs[7]) == here[dirs[7]]
            for d in dirs:
                assert statwalk.tree_digest(d) == here[d], d
            # a directory it does not walk is walked here
            other = root / "fx_1" / "media"
            assert statwalk.tree_digest(other) == statwalk._digest(str(other))
            # a key taken again (a build wrote files) is walked afresh, edits seen
            (dirs[0] / "media" / "0.jpg").write_bytes(b"edited")
            assert statwalk.tree_digest(dirs[0]) != here[dirs[0]]
        assert statwalk._child is None
        try:
            os.waitpid(child.pid, os.WNOHANG)
            raise AssertionError("the child was not reaped")
        except ChildProcessError:
            pass
        print("ok")
        """,
        tmp_path,
    )


def test_a_walk_left_unread_is_stopped_and_reaped(tmp_path: Path) -> None:
    """A command that fails before its first key (a config error) leaves no process behind,
    even one still walking, or blocked on a full pipe."""
    make_dirs(tmp_path, 30)
    run_alone(
        """
        import os, sys
        from pathlib import Path
        from wanbuild.dataset import statwalk
        root = Path(sys.argv[1])
        dirs = sorted(root.iterdir()) * 200  # 6,000 digests: more than a pipe holds
        try:
            with statwalk.ahead(lambda: dirs):
                pid = statwalk._child.pid
                raise KeyError("the command failed")
        except KeyError:
            pass
        try:
            os.waitpid(pid, os.WNOHANG)
            raise AssertionError("the child was not reaped")
        except ChildProcessError:
            pass
        with statwalk.ahead(lambda: [][0]):  # the child cannot tell what to walk
            assert statwalk.tree_digest(dirs[0]) == statwalk._digest(str(dirs[0]))
        print("ok")
        """,
        tmp_path,
    )


def test_a_plan_of_many_effects_sees_an_edit_made_between_two_plans(tmp_path: Path) -> None:
    """The whole command, as a user runs it (one thread: the walk goes ahead): unchanged
    effects keep their dataset fingerprints, the edited one gets a new one."""
    for i in range(8):
        write_effect(tmp_path, f"fx_{i}")

    def plan() -> dict[str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "wanbuild", "plan", "--format", "json"],
            cwd=tmp_path,
            env={**os.environ, "WANBUILD_EMULATOR_TIME_SCALE": "1e6"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr  # nothing built or applied yet
        effects = json.loads(proc.stdout)["effects"]
        return {name: e["desired"]["dataset"] for name, e in effects.items()}

    first = plan()
    assert plan() == first
    edit_samples(tmp_path / "effects" / "fx_3", "train", 0, background="a windy pier.")
    third = plan()
    assert [n for n in first if third[n] != first[n]] == ["fx_3"]


def test_no_walk_ahead_beside_other_threads_or_for_a_few_effects(tmp_path: Path) -> None:
    """Forking a process that runs threads can copy a lock mid-use: then, and for fewer
    effects than a process is worth, every key is walked in the process itself."""
    make_dirs(tmp_path, 3)
    run_alone(
        """
        import sys, threading
        from pathlib import Path
        from wanbuild.dataset import statwalk
        dirs = sorted(Path(sys.argv[1]).iterdir())
        with statwalk.ahead(lambda: dirs, worth_it=False):
            assert statwalk._child is None, "forked for a few effects"
        done = threading.Event()
        t = threading.Thread(target=done.wait)
        t.start()
        with statwalk.ahead(lambda: dirs):
            assert statwalk._child is None, "forked beside another thread"
        done.set()
        t.join()
        print("ok")
        """,
        tmp_path,
    )
