"""The stat walk a plan starts in a child process while it imports: the same keys as walking
in the parent, each used once, the child always reaped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.emulator_helpers import REPO


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
        with statwalk.ahead(dirs, at_least=1):
            child = statwalk._child
            assert child is not None, "no child started"
            # asked for out of order, as effects in other projects would be
            assert statwalk.tree_digest(dirs[7]) == here[dirs[7]]
            for d in dirs:
                assert statwalk.tree_digest(d) == here[d], d
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
            with statwalk.ahead(dirs, at_least=1):
                pid = statwalk._child.pid
                raise KeyError("the command failed")
        except KeyError:
            pass
        try:
            os.waitpid(pid, os.WNOHANG)
            raise AssertionError("the child was not reaped")
        except ChildProcessError:
            pass
        print("ok")
        """,
        tmp_path,
    )


def test_no_walk_ahead_beside_other_threads_or_for_a_few_effects(tmp_path: Path) -> None:
    """Forking a process that runs threads can copy a lock mid-use: then, and for fewer
    directories than a process is worth, every key is walked in the process itself."""
    make_dirs(tmp_path, 3)
    run_alone(
        """
        import sys, threading
        from pathlib import Path
        from wanbuild.dataset import statwalk
        dirs = sorted(Path(sys.argv[1]).iterdir())
        with statwalk.ahead(dirs):
            assert statwalk._child is None, "forked for three directories"
        done = threading.Event()
        t = threading.Thread(target=done.wait)
        t.start()
        with statwalk.ahead(dirs, at_least=1):
            assert statwalk._child is None, "forked beside another thread"
        done.set()
        t.join()
        print("ok")
        """,
        tmp_path,
    )
