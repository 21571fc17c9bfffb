"""Two machines never train twice: the lease and the shared state on the project's git remote.

Real git throughout: a bare repository as the remote, clones of it as the machines, one
`wanbuild emulator serve` as the service both talk to (backend=dashscope backend.base_url=...).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator_helpers import apply_env, served
from tests.helpers import write_effect
from wanbuild.reconcile.lease import Holder, Lease, LeaseBusy
from wanbuild.reconcile.shared_state import Marker, lease_ref, merged, state_ref
from wanbuild.remote.client import Client
from wanbuild.versioning.gitrefs import GitRefsError, GitRemote, Pushed, Update

PROFILES = ["typical", "documented-minimum"]


def git(cwd: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def repository(root: Path) -> tuple[Path, Path]:
    """(a bare remote, a first clone of it holding one committed effect `fx`)."""
    remote = root / "remote.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    first = root / "laptop"
    git(root, "clone", "-q", str(remote), str(first))
    for k, v in (("user.name", "t"), ("user.email", "t@example.com")):
        git(first, "config", k, v)
    write_effect(first, "fx")
    (first / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")  # the project's root
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "an effect")
    git(first, "push", "-q", "origin", "HEAD:main")
    return remote, first


def clone(remote: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(remote), str(where))
    return where


def wanbuild(
    cwd: Path, url: str, *argv: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {**apply_env("1"), "DASHSCOPE_API_KEY": "sk-test", **(extra_env or {})}
    env.pop("WANBUILD_EMULATOR_TIME_SCALE")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wanbuild",
            *argv,
            "effects/fx",
            "backend=dashscope",
            f"backend.base_url={url}",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def census(url: str) -> dict[str, int]:
    with Client(url, "sk-test") as c:
        return {
            "jobs": len(list(c.iter_jobs())),
            "deployments": len([d for d in c.iter_deployments() if d.status == "RUNNING"]),
        }


@pytest.fixture(params=PROFILES)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with served(tmp_path / "cloud", "--profile", str(request.param)) as url:
        yield url


def test_two_machines_applying_at_once_train_once_and_a_third_plans_all_skip(
    tmp_path: Path, service: str
) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    rng = random.Random(19)
    for rep in range(1, 21):
        # each repetition asks for a retrain (the epochs change), so each must make one job
        epochs = f"++hyper_parameters.learning_rate={rep}e-5"
        offset = rng.uniform(0.0, 0.6)
        procs = []
        for i, machine in enumerate([laptop, runner] if rep % 2 else [runner, laptop]):
            if i:
                time.sleep(offset)
            procs.append(
                wanbuild(machine, service, "apply", "--wait", "--yes", "--poll", "0.05", epochs)
            )
        results = [finished(p) for p in procs]
        assert [code for code, _ in results] == [0, 0], "\n".join(out for _, out in results)
        assert census(service) == {"jobs": rep, "deployments": 1}, (rep, results)
        if os.environ.get("SHOW"):
            print(results)
    # a fresh clone knows nothing but the remote: the shared state tells it what exists
    fresh = clone(remote, tmp_path / "fresh")
    code, out = finished(wanbuild(fresh, service, "plan", "++hyper_parameters.learning_rate=20e-5"))
    assert code == 0, out
    assert (
        "fx: wanbuild.lock brought up to date from the shared state (refs/wanbuild/state/fx on origin): none was here"
        in out
    )


def test_a_conflicted_lock_is_replaced_by_the_shared_state(tmp_path: Path) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    with served(tmp_path / "cloud") as url:
        code, out = finished(wanbuild(laptop, url, "apply", "--wait", "--yes", "--poll", "0.05"))
        assert code == 0, out
        lock = runner / "effects/fx/wanbuild.lock"
        lock.write_text("<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other\n", encoding="utf-8")
        code, out = finished(wanbuild(runner, url, "plan"))
    assert code == 0, out
    assert "wanbuild.lock holds merge-conflict markers; replaced by the shared state" in out
    assert json.loads(lock.read_text()) == json.loads(
        (laptop / "effects/fx/wanbuild.lock").read_text()
    )


@pytest.mark.parametrize("crash", ["after_create_job", "after_deploy"])
def test_a_holder_killed_after_its_job_create_leaves_one_job(
    tmp_path: Path, service: str, crash: str
) -> None:
    """SIGKILL of the holder after the create (its reply unrecorded, or recorded): the other
    machine waits for the lease to expire, takes it over, finds the pushed intent or id, and
    never creates a second job."""
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    ttl = "backend.lease_ttl=3"
    killed = wanbuild(
        laptop,
        service,
        "apply",
        "--wait",
        "--yes",
        ttl,
        extra_env={"WANBUILD_TEST_CRASH_AT": crash},
    )
    code, out = finished(killed)
    assert code == -9, out
    assert census(service)["jobs"] == 1
    code, out = finished(
        wanbuild(runner, service, "apply", "--wait", "--yes", "--poll", "0.05", ttl)
    )
    assert code == 0, out
    assert "waiting for the lease held by" in out
    assert "took over the lease on fx from" in out
    assert "expired without being released" in out
    assert "creating training job" not in out
    assert census(service) == {"jobs": 1, "deployments": 1}


def test_a_held_lease_is_shown_by_plan_and_stops_apply_after_its_timeout(tmp_path: Path) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    held = lease_on(laptop)
    held.take(timeout=0)
    with served(tmp_path / "cloud") as url:
        code, out = finished(wanbuild(runner, url, "plan"))
        assert code == 2, out
        assert "fx: being applied now by " in out
        assert f"pid {os.getpid()} (apply)" in out
        code, out = finished(wanbuild(runner, url, "apply", "--yes", "--lock-timeout", "1"))
        assert census(url)["jobs"] == 0
    assert code == 1, out
    assert "fx: waiting for the lease held by" in out
    assert "another machine holds its lease" in out
    assert "`wanbuild unlock fx`" in out
    assert "uploading" not in out
    held.release()


def test_a_remote_that_refuses_pushes_stops_apply_before_any_create(
    tmp_path: Path, service: str
) -> None:
    remote, laptop = repository(tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'this remote is read-only' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, out = finished(wanbuild(laptop, service, "apply", "--wait", "--yes"))
    assert code == 1, out
    assert "fx: cannot take its lease on the git remote 'origin'" in out
    assert "pre-receive hook declined" in out
    assert "backend.lease=local" in out
    assert "uploading" not in out
    with Client(service, "sk-test") as c:
        assert c.list_files(api="native") == []
    assert census(service)["jobs"] == 0


def test_no_git_remote_refuses_to_create_unless_the_project_says_it_is_single_machine(
    tmp_path: Path, service: str
) -> None:
    project = tmp_path / "alone"
    write_effect(project, "fx")
    (project / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")
    code, out = finished(wanbuild(project, service, "apply", "--yes"))
    assert code == 1, out
    assert "is not in a git repository" in out
    assert "keeps two machines (a CI runner and a laptop) from training this effect twice" in out
    assert census(service)["jobs"] == 0
    code, out = finished(
        wanbuild(
            project, service, "apply", "--wait", "--yes", "--poll", "0.05", "backend.lease=local"
        )
    )
    assert code == 0, out
    assert census(service) == {"jobs": 1, "deployments": 1}


def test_offline_remote_fails_apply_naming_the_remote(tmp_path: Path) -> None:
    _, laptop = repository(tmp_path)
    git(laptop, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with served(tmp_path / "cloud") as url:
        code, out = finished(wanbuild(laptop, url, "apply", "--yes"))
        assert census(url)["jobs"] == 0
    assert code == 1, out
    assert "shared state: cannot read git remote 'origin'" in out
    assert "fx: cannot take its lease on the git remote 'origin'" in out


# The lease itself, on real git: two clones of one bare remote.


def lease_on(
    machine: Path, ttl: float = 60, clock: float | None = None, said: list[str] | None = None
) -> Lease:
    remote = GitRemote(machine, "origin")
    marker = Marker(machine / ".wanbuild", "fx", remote.url())
    return Lease(
        remote,
        "fx",
        ttl,
        marker,
        say=(said if said is not None else []).append,
        clock=(lambda: clock) if clock is not None else time.time,
    )


def test_a_second_lease_waits_then_names_the_holder_and_the_way_out(tmp_path: Path) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    first = lease_on(laptop)
    first.take(timeout=0)
    said: list[str] = []
    with pytest.raises(LeaseBusy) as busy:
        lease_on(runner, said=said).take(timeout=1.2)
    assert f"pid {os.getpid()} (apply)" in str(busy.value)
    assert "`wanbuild unlock fx`" in str(busy.value)
    assert said[0].startswith("waiting for the lease held by ")
    first.release()
    assert "leases/fx" not in git(laptop, "ls-remote", "origin")
    lease_on(runner).take(timeout=0)  # free again


def test_an_expired_lease_is_taken_over_once_and_its_holder_can_record_nothing(
    tmp_path: Path,
) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    now = time.time()
    old = lease_on(laptop, ttl=10, clock=now)
    old.take(timeout=0)
    old.publish('{"targets": {}}\n')
    said: list[str] = []
    later = lease_on(runner, ttl=10, clock=now + 11, said=said)
    refs = later.take(timeout=0)
    assert any("expired without being released" in s for s in said), said
    assert refs[state_ref("fx")] == old.state  # the state it pushed came with the lease
    with pytest.raises(Exception, match="its lease was taken from this apply"):
        old.publish('{"targets": {"x": {}}}\n')
    assert later.state is not None
    assert GitRemote(runner, "origin").read(later.state, "wanbuild.lock") == b'{"targets": {}}\n'


def test_unlock_breaks_the_lease_and_its_holder_stops_before_recording(
    tmp_path: Path,
) -> None:
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    held = lease_on(laptop)
    held.take(timeout=0)
    proc = subprocess.run(
        [sys.executable, "-m", "wanbuild", "unlock", "effects/fx", "--yes"],
        cwd=runner,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "is held by " in proc.stdout
    assert f"pid {os.getpid()}" in proc.stdout
    assert "lease broken" in proc.stdout
    with pytest.raises(Exception, match="its lease was taken"):
        held.publish("{}\n")
    again = subprocess.run(
        [sys.executable, "-m", "wanbuild", "unlock", "effects/fx", "--yes"],
        cwd=runner,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "no lease is held" in again.stdout


def test_two_takers_of_one_free_lease_end_with_one_holder(tmp_path: Path) -> None:
    """The remote's check of the expected value decides, not timing: a push expecting the
    ref absent fails once another machine created it."""
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    a, b = GitRemote(laptop, "origin"), GitRemote(runner, "origin")
    ca, cb = a.commit({"lease.json": b"a"}, "a"), b.commit({"lease.json": b"b"}, "b")
    assert a.push([Update(lease_ref("fx"), ca, None)]).ok
    lost = b.push([Update(lease_ref("fx"), cb, None)])
    assert not lost.ok
    assert lost.stale == (lease_ref("fx"),)
    assert b.fetch()[lease_ref("fx")] == ca


def test_a_race_the_remote_itself_settles_is_a_lost_race_not_a_refusal(tmp_path: Path) -> None:
    """Both machines saw the ref absent; the remote, locking the ref to create it, finds the
    other's: that is a lost race (look again), not a remote that refuses pushes."""
    remote, laptop = repository(tmp_path)
    runner = clone(remote, tmp_path / "runner")
    hook = remote / "hooks" / "pre-receive"  # holds the first push until the second is in
    hook.write_text("#!/bin/sh\nif [ -f slow ]; then rm slow; sleep 2; fi\n")
    hook.chmod(0o755)
    (remote / "slow").touch()
    a, b = GitRemote(laptop, "origin"), GitRemote(runner, "origin")
    ca, cb = a.commit({"lease.json": b"a"}, "a"), b.commit({"lease.json": b"b"}, "b")
    results: list[object] = []
    first = threading.Thread(
        target=lambda: results.append(a.push([Update(lease_ref("fx"), ca, None)]))
    )
    first.start()
    while (remote / "slow").exists():
        time.sleep(0.01)
    assert b.push([Update(lease_ref("fx"), cb, None)]).ok
    first.join(30)
    [lost] = results
    assert lost == Pushed(ok=False, stale=(lease_ref("fx"),))
    assert a.fetch()[lease_ref("fx")] == cb


def test_a_remote_that_cannot_be_reached_is_an_error_not_a_lost_race(tmp_path: Path) -> None:
    _, laptop = repository(tmp_path)
    git(laptop, "remote", "set-url", "origin", str(tmp_path / "nowhere.git"))
    r = GitRemote(laptop, "origin")
    with pytest.raises(GitRefsError, match="does not appear to be a git repository"):
        r.push([Update(lease_ref("fx"), r.commit({"x": b"1"}, "x"), None)])
    assert Holder.parse(b"not json") is None


# How the working tree's lock and the shared state are reconciled: a pure rule.

H1 = {"job_id": "ft-1", "applied_at": "2026-12-01T00:00:00Z"}
H2 = {"job_id": "ft-2", "applied_at": "2026-12-02T00:00:00Z"}
H3 = {"job_id": "ft-3", "applied_at": "2026-12-03T00:00:00Z"}


def doc(
    job: str, history: list[dict[str, str]], claims: list[str], **extra: object
) -> dict[str, object]:
    entry = {"job": {"job_id": job}, "history": history, "claims": {"jobs": claims}, **extra}
    return {"format": 1, "effect": "fx", "targets": {"dashscope/cn-beijing": entry}}


def entry(d: dict[str, object]) -> dict[str, object]:
    return d["targets"]["dashscope/cn-beijing"]  # type: ignore[index,no-any-return]


def test_the_other_machines_record_wins_and_claims_and_history_only_grow() -> None:
    local = doc("ft-1", [H1], ["ft-1"], intents=[{"key": "train"}])
    remote = doc("ft-2", [H1, H2], ["ft-1", "ft-2"])
    out = entry(merged(local, remote))
    assert out["job"] == {"job_id": "ft-2"}
    assert "intents" not in out  # settled over there: not brought back
    assert out["history"] == [H1, H2]
    assert out["claims"] == {"jobs": ["ft-1", "ft-2"]}


def test_a_working_tree_whose_history_extends_the_shared_one_stands() -> None:
    local = doc("ft-2", [H1, H2], ["ft-2"])
    remote = doc("ft-1", [H1], ["ft-1"])
    out = entry(merged(local, remote))
    assert out["job"] == {"job_id": "ft-2"}
    assert out["claims"] == {"jobs": ["ft-2", "ft-1"]}


def test_diverged_histories_keep_every_record_in_the_order_applied() -> None:
    local = doc("ft-3", [H1, H3], ["ft-3"])
    remote = doc("ft-2", [H1, H2], ["ft-2"])
    out = entry(merged(local, remote))
    assert out["job"] == {"job_id": "ft-2"}  # neither extends the other: the remote's record
    assert out["history"] == [H1, H2, H3]
    assert set(out["claims"]["jobs"]) == {"ft-2", "ft-3"}  # type: ignore[index]
    assert merged(None, remote) == remote
