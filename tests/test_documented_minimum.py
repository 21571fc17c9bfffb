"""The documented-minimum emulator profile, and the reconciler against it: names ignored, ids
not echoed, lists that lag, replies lost. Each failure the profile was built to expose is
reproduced here and shown not to happen."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.emulator_helpers import built_zip, census, in_process
from tests.helpers import write_effect
from wanbuild.config.load import load_effect
from wanbuild.core.actions import Kind
from wanbuild.core.plan import plan
from wanbuild.dataset.desired import desired_state
from wanbuild.emulator.faults import Faults
from wanbuild.emulator.profile import DOCUMENTED_MINIMUM
from wanbuild.reconcile.claims import read_claims
from wanbuild.reconcile.execute import Executor
from wanbuild.reconcile.lockfile import LockFile
from wanbuild.reconcile.observe import observe
from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError, TemporaryRemoteError
from wanbuild.store import Store

HP = {"n_epochs": 400, "batch_size": 4, "eval_epochs": 50, "max_pixels": 262144}
AIGC = {"use_input_prompt": False, "prompt": "p", "lora_prompt_default": "l"}


def minimum(tmp_path: Path, faults: Faults | None = None):  # type: ignore[no-untyped-def]
    return in_process(tmp_path / "state", faults=faults, profile=DOCUMENTED_MINIMUM)


def trained(client: Client, clock, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    job = client.create_job(
        "wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP, job_name="wb-x", model_name="wb-x"
    )
    clock.advance(1e6)
    output = client.get_job(job.job_id).finetuned_output
    assert output is not None
    return output


def test_names_are_ignored_and_ids_not_echoed(tmp_path: Path) -> None:
    client, clock = minimum(tmp_path)
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    job = client.create_job(
        "wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP, job_name="wb-x", model_name="wb-x"
    )
    assert job.job_name == job.job_id  # job_name ignored
    assert job.finetuned_output is None  # "returned when the task is SUCCEEDED"
    assert job.training_file_ids == []  # "always returns an empty array for new jobs"
    assert "max_pixels" not in job.hyper_parameters  # the Singapore reference's echo
    assert job.hyper_parameters["n_epochs"] == 400
    assert list(client.iter_jobs()) == []  # lists lag behind creates
    clock.advance(121)
    assert [j.job_id for j in client.iter_jobs()] == [job.job_id]
    clock.advance(1e6)
    done = client.get_job(job.job_id)
    assert done.status == "SUCCEEDED"
    assert done.finetuned_output is not None
    assert not done.finetuned_output.startswith("wb-x")  # model_name ignored


def test_deployments_are_named_by_the_service_and_suffixes_are_spent(tmp_path: Path) -> None:
    client, clock = minimum(tmp_path)
    model = trained(client, clock, tmp_path)
    with pytest.raises(PermanentRemoteError, match="aigc_config is required"):
        client.create_deployment(model, suffix="zz1")
    with pytest.raises(PermanentRemoteError, match="at most 8"):
        client.create_deployment(model, aigc_config=AIGC, suffix="toolong123")
    dep = client.create_deployment(model, aigc_config=AIGC, suffix="zz1")
    assert dep.deployed_model.startswith("wan2.2-i2v-flash-")
    assert model not in dep.deployed_model
    assert "zz1" not in dep.deployed_model
    assert dep.aigc_config is None  # not echoed
    assert dep.capacity is None
    clock.advance(600)
    with pytest.raises(PermanentRemoteError) as scale:
        client.scale_deployment(dep.deployed_model, 2)
    assert scale.value.code == "UnsupportedOperation"
    client.delete_deployment(dep.deployed_model)
    clock.advance(600)
    with pytest.raises(PermanentRemoteError) as again:
        client.create_deployment(model, aigc_config=AIGC, suffix="zz1")  # deleted, still spent
    assert again.value.status == 409


def test_step_rules_are_enforced_at_create(tmp_path: Path) -> None:
    client, _ = minimum(tmp_path)
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    for hp, message in [
        ({**HP, "n_epochs": 300, "eval_epochs": 30}, "a minimum of 800 steps is required"),
        ({**HP, "eval_epochs": 20}, "eval_epochs (20) must be at least n_epochs/10"),
    ]:
        with pytest.raises(PermanentRemoteError) as refused:
            client.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=hp)
        assert message in str(refused.value)


class Stepper:
    """One effect reconciled by hand, pass by pass: observe, plan, run the first change."""

    def __init__(
        self, tmp_path: Path, client: Client, name: str = "fx", neighbours: tuple[Path, ...] = ()
    ) -> None:
        self.dir = write_effect(tmp_path, name)
        loaded = load_effect(self.dir, [])
        self.desired = desired_state(loaded, Store(tmp_path / ".wanbuild"))
        self.lock = LockFile(self.dir, name, self.desired.target)
        self.client = client
        self.claims = lambda: read_claims([*neighbours, self.dir])
        self.executor = Executor(client, self.desired, self.lock, lambda _t: None, self.claims)

    def kinds(self) -> list[Kind]:
        return [a.kind for a in self.plan().actions]

    def plan(self):  # type: ignore[no-untyped-def]
        return plan(self.desired, observe(self.client, self.desired, self.lock, self.claims))

    def act(self) -> Kind:
        observed = observe(self.client, self.desired, self.lock, self.claims)
        current = plan(self.desired, observed)
        action = next(a for a in current.actions if a.kind not in (Kind.SKIP,))
        if action.kind in (Kind.UPLOAD, Kind.TRAIN, Kind.DEPLOY, Kind.ADOPT, Kind.UNDEPLOY):
            self.executor.run(action, observed)
        return action.kind


def _store_kinds(tmp_path: Path) -> Iterator[str]:
    import sqlite3

    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        for (kind,) in db.execute("SELECT kind FROM objects"):
            yield str(kind)


def test_every_reply_lost_under_lagging_lists_adopts_each_object_once(tmp_path: Path) -> None:
    """The 89-jobs failure: the service ignores names and lists lag. Every create's reply is
    lost; apply waits for the lists, adopts the one unclaimed object, never creates again."""
    faults = Faults(lose_post_reply=1.0)
    client, clock = minimum(tmp_path, faults)
    client.settle_s = 1e9  # the lists will catch up: never give up waiting in this test
    s = Stepper(tmp_path, client)
    for expected in ("upload", "train"):
        with pytest.raises(TemporaryRemoteError) as lost:
            s.act()
        assert lost.value.ambiguous
        for _ in range(3):  # not listed yet: wait, never a second create
            assert s.kinds()[0 if expected == "upload" else 1] is Kind.WAIT
        clock.advance(121)
        assert s.act() is Kind.ADOPT
    assert s.kinds()[1] is Kind.WAIT  # the adopted job, training
    clock.advance(1e6)
    with pytest.raises(TemporaryRemoteError):
        s.act()  # deploy: reply lost
    clock.advance(121)
    assert s.act() is Kind.ADOPT
    clock.advance(600)
    assert set(s.kinds()) == {Kind.SKIP}
    kinds = list(_store_kinds(tmp_path))
    assert (kinds.count("file"), kinds.count("job"), kinds.count("deployment")) == (1, 1, 1)
    entry = json.loads((s.dir / "wanbuild.lock").read_text())["targets"]["emulator/cn-beijing"]
    assert "intents" not in entry
    assert len(entry["claims"]["jobs"]) == 1


def test_a_job_create_that_never_arrived_stops_instead_of_guessing(tmp_path: Path) -> None:
    faults = Faults()
    client, clock = minimum(tmp_path, faults)
    client.settle_s = 0.0
    s = Stepper(tmp_path, client)
    assert s.act() is Kind.UPLOAD
    faults.reject_post = 1.0  # the POST is refused with a 500: nothing is created
    with pytest.raises(TemporaryRemoteError):
        s.act()
    faults.reject_post = 0.0
    clock.advance(121)
    current = s.plan()
    assert current.actions[1].kind is Kind.BLOCKED
    assert "`wanbuild apply --forget-pending fx`" in current.actions[1].detail
    assert list(_store_kinds(tmp_path)).count("job") == 0


def test_another_effects_unrecorded_job_is_never_adopted(tmp_path: Path) -> None:
    """Two effects on one base model: a candidate that another lock claims is not one."""
    client, clock = minimum(tmp_path, Faults())
    client.settle_s = 0.0
    a = Stepper(tmp_path, client)
    a.act()
    a.act()  # a's job, recorded in a's lock
    b = Stepper(tmp_path, client, "other", neighbours=(a.dir,))  # b sees a's lock
    b.act()
    b.lock.add_intent(
        {
            "key": "train",
            "action": "create_job",
            "at": "2026-01-01T00:00:00Z",
            "model": "wan2.2-i2v-flash",
            "before": [],
        }
    )
    clock.advance(121)
    current = b.plan()
    assert current.actions[1].kind is Kind.BLOCKED  # a's job is a's, so no candidate
    assert "none has appeared" in current.actions[1].detail


def test_a_refused_suffix_is_replaced_and_never_read_as_success(tmp_path: Path) -> None:
    """The 0-deployments failure: a 409 on create was taken for "already deployed", the live
    deployment retired, none left. Now a refused suffix means nothing was made: another one."""
    client, clock = minimum(tmp_path, Faults())
    s = Stepper(tmp_path, client)
    s.act()
    s.act()
    clock.advance(1e6)
    spent = iter(["taken001", "fresh001"])
    s.executor.new_suffix = lambda: next(spent)
    other = trained(client, clock, tmp_path / "other")
    client.create_deployment(other, aigc_config=AIGC, suffix="taken001")
    assert s.act() is Kind.DEPLOY
    entry = s.lock.entry()
    assert "intents" not in entry
    deployed = entry["deployment"]["deployed_model"]
    clock.advance(600)
    assert set(s.kinds()) == {Kind.SKIP}
    assert client.get_deployment(deployed).status == "RUNNING"


def test_repeated_applies_without_wait_train_once(
    tmp_path: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two applies without --wait made 89 jobs when the service ignored job names."""
    monkeypatch.setenv("WANBUILD_EMULATOR_PROFILE", "documented-minimum")
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "50")  # 800 steps: ~100 s of training
    d = write_effect(tmp_path, "fx")
    outputs = [run("apply", str(d)).out for _ in range(6)]
    assert sum(o.count("creating training job") for o in outputs) == 1
    assert "fx: in progress" in outputs[-1]
    assert census(tmp_path)["jobs"] == 1


def test_effect_names_have_one_charset(tmp_path: Path, run: Callable[..., Run]) -> None:
    refused = run("init", "effects/Dolly Zoom", "--model", "wan2.2-i2v-flash")
    assert refused.code == 1
    assert "must start with a lower-case letter" in refused.err
    assert "'dolly_zoom'" in refused.err
    assert not (tmp_path / "effects/Dolly Zoom").exists()
    d = write_effect(tmp_path, "fx")
    d.rename(tmp_path / "effects" / "Dolly Zoom")
    bad = run("validate", str(tmp_path / "effects" / "Dolly Zoom"))
    assert bad.code == 1
    assert "the effect name must start with" in bad.out + bad.err


def test_destroying_one_effect_never_touches_anothers_deployment(
    tmp_path: Path, run: Callable[..., Run], profile: str
) -> None:
    a = write_effect(tmp_path, "dolly_zoom")
    write_effect(tmp_path, "dolly_zoom_b")
    assert run("apply", "--wait").code == 0
    assert run("destroy", "--yes", str(a)).code == 0
    assert census(tmp_path)["deployments"] == 1
    code = run("plan", str(tmp_path / "effects/dolly_zoom_b")).code
    assert code == 0  # the other effect is untouched and still matches
