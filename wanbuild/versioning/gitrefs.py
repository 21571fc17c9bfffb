"""Git's refs on a remote, written: the one atomic primitive every machine of a project shares.

A ref update pushed with an expected old value (`--force-with-lease=REF:OLD`, empty OLD: the
ref must not exist) is checked by the receiving side under the ref's own lock, so of two
machines pushing the same ref from the same old value exactly one succeeds. Pushed with
`--atomic`, several such updates succeed or fail together. The objects pushed are small
commits made here without touching the working tree, the index or any branch.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wanbuild.errors import WanbuildError

NAMESPACE = "refs/wanbuild"
# where fetched refs are kept locally, per remote: never under refs/remotes (no branch noise)
_FETCHED = "refs/wanbuild-fetched"
# a fixed identity: CI machines and fresh containers often have no user.name
_IDENTITY = {
    "GIT_AUTHOR_NAME": "wanbuild",
    "GIT_AUTHOR_EMAIL": "wanbuild@localhost",
    "GIT_COMMITTER_NAME": "wanbuild",
    "GIT_COMMITTER_EMAIL": "wanbuild@localhost",
}
TIMEOUT_S = 60


class GitRefsError(WanbuildError):
    """The remote cannot be read or written (missing, offline, refused)."""


@dataclass(frozen=True)
class Update:
    """Set `ref` to `new` (None: delete it), but only if it is `expect` now (None: absent)."""

    ref: str
    new: str | None
    expect: str | None


@dataclass(frozen=True)
class Pushed:
    ok: bool
    stale: tuple[str, ...]  # refs whose value was not the expected one (someone else moved it)


class GitRemote:
    """One remote of the repository that holds `repo`."""

    def __init__(self, repo: Path, name: str) -> None:
        self.repo, self.name = repo, name

    def _git(self, *argv: str, stdin: bytes | None = None, check: bool = True) -> str:
        env = {**os.environ, **_IDENTITY, "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                ["git", *argv],
                cwd=self.repo,
                input=stdin,
                capture_output=True,
                timeout=TIMEOUT_S,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            raise GitRefsError("git is not installed") from None
        except subprocess.TimeoutExpired:
            raise GitRefsError(
                f"git {argv[0]} on remote {self.name!r} gave no answer in {TIMEOUT_S} s"
            ) from None
        out = proc.stdout.decode("utf-8", "replace")
        if check and proc.returncode != 0:
            raise GitRefsError(_last_line(proc.stderr) or f"git {argv[0]} failed")
        return out if check else out + "\0" + proc.stderr.decode("utf-8", "replace")

    def url(self) -> str:
        """The remote's URL; an error when the project is no git repository or has no such
        remote."""
        inside = self._git("rev-parse", "--is-inside-work-tree", check=False)
        if not inside.startswith("true"):
            raise GitRefsError(f"{self.repo} is not in a git repository")
        url = self._git("remote", "get-url", self.name, check=False).split("\0")[0].strip()
        if not url:
            raise GitRefsError(f"the repository has no remote named {self.name!r}")
        return url

    def fetch(self) -> dict[str, str]:
        """Every ref under refs/wanbuild/ on the remote, by its name there, as fetched now
        (one round trip for all effects)."""
        local = f"{_FETCHED}/{self.name}"
        self._git(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--prune",
            self.name,
            f"+{NAMESPACE}/*:{local}/*",
        )
        listed = self._git("for-each-ref", "--format=%(objectname) %(refname)", local)
        refs = {}
        for line in listed.splitlines():
            sha, _, ref = line.partition(" ")
            refs[NAMESPACE + ref[len(local) :]] = sha
        return refs

    def commit(self, files: dict[str, bytes], message: str, parent: str | None = None) -> str:
        """A commit holding `files` (flat), made in the local object store only."""
        entries = []
        for name, data in sorted(files.items()):
            blob = self._git("hash-object", "-w", "--stdin", stdin=data).strip()
            entries.append(f"100644 blob {blob}\t{name}\n")
        tree = self._git("mktree", stdin="".join(entries).encode()).strip()
        argv = ["commit-tree", tree, "-m", message, *(["-p", parent] if parent else [])]
        return self._git(*argv).strip()

    def read(self, commit: str, name: str) -> bytes:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                ["git", "cat-file", "blob", f"{commit}:{name}"],
                cwd=self.repo,
                capture_output=True,
                timeout=TIMEOUT_S,
                env=env,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise GitRefsError(f"cannot read {name} of {commit[:12]}: {e}") from None
        if proc.returncode != 0:
            raise GitRefsError(f"cannot read {name} of {commit[:12]}: {_last_line(proc.stderr)}")
        return proc.stdout

    def push(self, updates: list[Update]) -> Pushed:
        """All of `updates` or none of them. A ref someone else moved is `stale` (not an
        error: the caller decides); a remote that cannot be reached, or that refuses the push
        for any other reason (read-only, a hook, permissions), is a GitRefsError."""
        argv = ["push", "--porcelain", "--atomic", "--no-verify", self.name]
        for u in updates:
            argv.append(f"--force-with-lease={u.ref}:{u.expect or ''}")
        argv += [f"{u.new or ''}:{u.ref}" for u in updates]
        out, _, err = self._git(*argv, check=False).partition("\0")
        status = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] in ("*", "+", "-", " ", "!", "="):
                status[parts[1].rpartition(":")[2]] = (parts[0], parts[2])
        if not status:
            raise GitRefsError(_last_line(err.encode()) or "git push failed")
        # a lost race shows either here (the advertised value was not the expected one) or
        # on the remote, which found the ref moved when it locked it to update it
        raced = "cannot lock ref" in err
        stale = tuple(
            r
            for r, (flag, note) in status.items()
            if "stale info" in note or (raced and flag == "!" and "remote rejected" in note)
        )
        refused = [
            f"{r}: {note}"
            for r, (flag, note) in status.items()
            if flag == "!" and r not in stale and "atomic push failed" not in note
        ]
        if refused and not stale:
            said = [
                line.removeprefix("remote:").strip()
                for line in err.splitlines()
                if line.startswith("remote:") and line.removeprefix("remote:").strip()
            ]
            why = "; ".join(refused + ([f"it says: {' '.join(said)}"] if said else []))
            raise GitRefsError(f"the remote refused the push ({why})")
        return Pushed(ok=not stale and not refused, stale=stale)


def _last_line(stderr: bytes) -> str:
    lines = [
        line.strip()
        for line in stderr.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("hint:")
    ]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:", "remote:"))]
    return (fatal or lines or [""])[0]
