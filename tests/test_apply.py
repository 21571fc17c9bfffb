"""`wanbuild plan` / `apply` / `status` / `destroy` end to end on the embedded emulator."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.emulator_helpers import census, local_remote
from tests.helpers import edit_samples
from wanbuild.remote.client import Client


@pytest.fixture(autouse=True)
def fast_emulator(monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    """Every test here runs under both emulator profiles (tests/conftest.py)."""
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "1e7")
    monkeypatch.delenv("WANBUILD_EMULATOR_FAULTS", raising=False)


def remote(tmp_path: Path) -> Client:
    return local_remote(tmp_path)


def plan_json(run: Callable[..., Run], *argv: str) -> tuple[int, list[tuple[str, str]]]:
    result = run("plan", "--format", "json", *argv)
    doc = json.loads(result.out)
    return result.code, [(a["kind"], a["reason"]) for a in doc["actions"]]


def test_apply_wait_converges_then_plan_is_all_skip(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory(n_validation=1)
    result = run("apply", "--wait", str(d))
    assert result.code == 0, result.out + result.err
    first = result.out.splitlines()[0]
    assert first.startswith("backend: the embedded emulator")
    assert "fx: converged: live as " in result.out
    code, actions = plan_json(run, str(d))
    assert code == 0
    assert {k for k, _ in actions} == {"skip"}
    assert census(tmp_path) == {"files": 2, "jobs": 1, "deployments": 1}
    lock = json.loads((d / "wanbuild.lock").read_text())["targets"]["emulator/cn-beijing"]
    assert lock["job"]["status"] == "SUCCEEDED"
    assert lock["job"]["usage"] > 0
    assert lock["deployment"]["status"] == "RUNNING"
    assert set(lock["dataset"]["files"]) == {"train", "validation"}
    assert "intents" not in lock
    assert "applied" in lock
    status = run("status", str(d))
    assert "SUCCEEDED" in status.out
    assert f"deployment  {lock['deployment']['deployed_model']} RUNNING" in status.out


def test_without_wait_each_apply_advances_as_far_as_it_can(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "4000")  # 800 steps x 6 s = 1.2 s
    d = effect_factory()
    first = run("apply", str(d))
    assert first.code == 0
    assert "creating training job" in first.out
    assert "fx: in progress: training" in first.out
    assert run("plan", str(d)).code == 2
    outputs = []
    for _ in range(60):  # later applies pick up where things are: deploy, then converge
        time.sleep(0.25)
        outputs.append(run("apply", str(d)).out)
        if "fx: converged" in outputs[-1]:
            break
    joined = "".join(outputs)
    assert "deploying " in joined
    assert "fx: converged" in outputs[-1]
    assert joined.count("creating training job") == 0  # never a second job


def test_only_aigc_config_changed_is_a_redeploy(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    change = "deploy.aigc_config.use_input_prompt=true"
    code, actions = plan_json(run, str(d), change)
    assert code == 2
    assert actions == [
        ("skip", "unchanged"),
        ("skip", "unchanged"),
        ("deploy", "changed"),
        ("undeploy", "changed"),
    ]
    assert run("apply", "--wait", str(d), change).code == 0
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}
    assert plan_json(run, str(d), change)[0] == 0


def test_only_hyperparameters_changed_retrains_on_the_uploaded_file(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    text = run("plan", str(d), "hyper_parameters.n_epochs=500")
    assert "train" in text.out
    assert "hyper_parameters: n_epochs 400 -> 500" in text.out
    assert "retrain on the existing upload" in text.out
    code, actions = plan_json(run, str(d), "hyper_parameters.n_epochs=500")
    assert code == 2
    assert actions[:2] == [("skip", "unchanged"), ("train", "changed")]
    assert run("apply", "--wait", str(d), "hyper_parameters.n_epochs=500").code == 0
    assert census(tmp_path) == {"files": 1, "jobs": 2, "deployments": 1}


def test_a_caption_change_rebuilds_uploads_and_retrains(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    edit_samples(d, "train", 0, background="standing on a windy pier.")
    code, actions = plan_json(run, str(d))
    assert code == 2
    assert actions[:2] == [("upload", "changed"), ("train", "upstream changed")]
    assert "rebuild + upload + retrain" in run("plan", str(d)).out


def test_deployment_deleted_out_of_band_is_redeployed(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    with remote(tmp_path) as c:
        for dep in c.iter_deployments():
            c.delete_deployment(dep.deployed_model)
    time.sleep(0.05)  # DELETING -> gone (60 simulated seconds)
    assert ("deploy", "drifted") in plan_json(run, str(d))[1]
    assert run("apply", "--wait", str(d)).code == 0
    assert census(tmp_path)["deployments"] == 1


def test_failed_job_is_reported_and_not_retried_blindly(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = effect_factory()
    monkeypatch.setenv("WANBUILD_EMULATOR_FAULTS", "fail_job_at_step=10")
    failed = run("apply", "--wait", str(d))
    assert failed.code == 1
    assert "Training failed at step 10" in failed.out
    monkeypatch.delenv("WANBUILD_EMULATOR_FAULTS")
    again = run("apply", "--wait", str(d))
    assert again.code == 1
    assert "--retry-failed" in again.out
    assert census(tmp_path)["jobs"] == 1
    retried = run("apply", "--wait", "--retry-failed", str(d))
    assert retried.code == 0, retried.out
    assert census(tmp_path) == {"files": 1, "jobs": 2, "deployments": 1}
    lock = json.loads((d / "wanbuild.lock").read_text())["targets"]["emulator/cn-beijing"]
    assert lock["job"]["attempt"] == 2
    assert len(lock["claims"]["jobs"]) == 2  # both attempts are this effect's


def test_checkpoint_pin_exports_and_deploys_that_checkpoint(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    pin = "deploy.checkpoint=checkpoint-200"
    assert "export checkpoint + redeploy" in run("plan", str(d), pin).out
    result = run("apply", "--wait", str(d), pin)
    assert result.code == 0, result.out
    with remote(tmp_path) as c:
        deps = [x for x in c.iter_deployments() if x.status != "DELETING"]
    assert len(deps) == 1
    assert deps[0].model_name is not None
    assert deps[0].model_name.endswith("-c200")
    lock = json.loads((d / "wanbuild.lock").read_text())["targets"]["emulator/cn-beijing"]
    assert lock["checkpoint"]["exported_model"] == deps[0].model_name


def test_saved_plan_is_refused_when_the_remote_changed(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    saved = tmp_path / "plan.json"
    assert (
        run("plan", str(d), "deploy.aigc_config.use_input_prompt=true", "--out", str(saved)).code
        == 2
    )
    with remote(tmp_path) as c:
        for dep in c.iter_deployments():
            c.delete_deployment(dep.deployed_model)
    time.sleep(0.05)
    refused = run("apply", str(saved), "deploy.aigc_config.use_input_prompt=true")
    assert refused.code == 1
    assert "the remote changed since the plan was saved" in refused.err
    fresh = tmp_path / "fresh.json"
    run("plan", str(d), "--out", str(fresh))
    assert run("apply", "--wait", str(fresh)).code == 0


def test_destroy_undeploys_after_confirmation(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    refused = run("destroy", str(d))
    assert refused.code == 1
    assert "pass --yes" in refused.err
    assert run("destroy", "--yes", "--delete-files", str(d)).code == 0
    assert census(tmp_path) == {"files": 0, "jobs": 1, "deployments": 0}


def test_two_effects_progress_concurrently(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    effect_factory("a")
    effect_factory("b", kind="t2i")
    result = run("apply", "--wait")
    assert result.code == 0, result.out
    assert "a: converged" in result.out
    assert "b: converged" in result.out
    assert census(tmp_path) == {"files": 2, "jobs": 2, "deployments": 2}


def test_a_lost_lock_never_trains_again_and_adopt_reattaches(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    """The lock is the record of identity. Lost, the objects named like this effect's stop the
    plan (never a second paid job); `wanbuild adopt` reattaches them."""
    d = effect_factory()
    assert run("apply", "--wait", str(d)).code == 0
    (d / "wanbuild.lock").unlink()
    assert plan_json(run, str(d))[0] == 0  # this machine's mirror in .wanbuild/ still knows
    shutil.rmtree(tmp_path / ".wanbuild/lineage")  # as on another machine
    with remote(tmp_path) as c:
        [job] = list(c.iter_jobs())
        [dep] = list(c.iter_deployments())
    stopped = run("apply", "--wait", str(d))
    assert stopped.code == 1
    assert "nothing is trained until then" in stopped.out
    assert "`wanbuild adopt fx JOB_ID`" in stopped.out
    assert census(tmp_path)["jobs"] == 1
    assert run("adopt", str(d), job.job_id).code == 0
    blocked = run("plan", str(d))
    assert f"{dep.deployed_model} serves" in blocked.out
    assert run("adopt", str(d), dep.deployed_model).code == 0
    code, actions = plan_json(run, str(d))
    assert code == 0
    assert {k for k, _ in actions} == {"skip"}
    assert census(tmp_path) == {"files": 1, "jobs": 1, "deployments": 1}


def test_plan_formats_and_exit_codes(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    md = run("plan", "--format", "markdown", str(d))
    assert md.code == 2
    assert md.out.startswith("### wanbuild plan: 3 to change")
    assert "#### `fx`: rebuild + upload + retrain" in md.out
    assert "| + | upload | `wb-fx-train-" in md.out
    doc = json.loads(run("plan", "--format", "json", str(d)).out)
    assert {"effect", "kind", "reason", "impact", "detail", "needs"} <= set(doc["actions"][0])
    assert doc["actions"][0]["impact"] == "rebuild + upload + retrain"
    assert doc["effects"]["fx"]["summary"].startswith("i2v on wan2.2-i2v-flash in cn-beijing")
    broken = run("plan", str(d), "hyper_parameters.n_epoch=1")
    assert broken.code == 1
    assert "Could not override" in broken.err
    assert not (tmp_path / ".wanbuild/emulator").exists() or census(tmp_path)["files"] == 0


def test_checkpoints_lists_what_can_be_pinned(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    assert "no checkpoints yet (not trained)" in run("checkpoints", str(d)).out
    assert run("apply", "--wait", str(d)).code == 0
    out = run("checkpoints", str(d)).out
    assert "checkpoint-400" in out
    assert "not exported" in out
    assert "http" not in out  # the previews kept, not URLs that expire in 24 h
    samples = [line for line in out.splitlines() if line.strip().startswith("sample ")]
    assert samples
    assert all(
        ".wanbuild/previews/blobs/" in s or "expired before it was kept" in s for s in samples
    )
    assert "`wanbuild review fx`" in out
    assert out.count("checkpoint-") >= 8


def test_try_generates_with_the_live_deployment(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    from wanbuild.media.probe import probe_media_facts

    d = effect_factory()
    refused = run("try", str(d), "--image", str(d / "media/s01.jpg"))
    assert refused.code == 1
    assert "no running deployment" in refused.err
    assert run("apply", "--wait", str(d)).code == 0
    result = run("try", str(d), "--image", str(d / "media/s01.jpg"), "--poll", "0.01")
    assert result.code == 0, result.out + result.err
    [saved] = (tmp_path / ".wanbuild/try/fx").glob("*.mp4")
    facts = probe_media_facts(saved, "video")
    assert (facts.width, facts.height) == (128, 96)  # made from the given first frame
