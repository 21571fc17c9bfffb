"""plan(desired, observed) for a matrix of observed states: whole plans asserted. Pure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wanbuild.core.actions import Impact, Kind, Reason
from wanbuild.core.plan import plan
from wanbuild.spec.state import (
    Desired,
    DesiredZip,
    LockRecord,
    Observed,
    ObservedCheckpoint,
    ObservedDeployment,
    ObservedFile,
    ObservedJob,
)

HP = {"n_epochs": 400, "batch_size": 4}
D = Desired(
    effect="fx",
    target="emulator/cn-beijing",
    kind="i2v",
    model="wan2.2-i2v-flash",
    region="cn-beijing",
    upload_api="native",
    dataset_fp="d" * 64,
    zips=(DesiredZip("train", "build/fx/train.zip", "s" * 64, 1000, "wb-fx-train-dddd.zip", "x"),),
    training_type="efficient_sft",
    hyper_parameters=HP,
    job_fp="j" * 64,
    job_name="wb-fx-jjjj",
    total_steps=800,
    steps_text="800 steps",
    checkpoint=None,
    capacity=1,
    aigc_config={"use_input_prompt": False, "prompt": "p", "lora_prompt_default": "l"},
    deploy_fp="a" * 64,
    deploy_suffix="aaaaaaaa",
)
FILES = {"train": ObservedFile("file-1", "wb-fx-train-dddd.zip", "train")}
DONE = ObservedJob("ft-1", "wb-fx-jjjj", "SUCCEEDED", "wb-fx-jjjj")
LIVE = ObservedDeployment("wb-fx-jjjj-aaaaaaaa", "wb-fx-jjjj", "RUNNING", 1, D.aigc_config)
LOCK = LockRecord(
    dataset_fp="d" * 64,
    job_fp="j" * 64,
    job_id="ft-1",
    job_hyper_parameters=HP,
    deploy_fp="a" * 64,
    deployed_model="wb-fx-jjjj-aaaaaaaa",
)


def observed(**kw: object) -> Observed:
    base = dict(files=FILES, job=DONE, checkpoints=(), deployment=LIVE, others=(), lock=LOCK)
    base.update(kw)
    return Observed(**base)  # type: ignore[arg-type]


def shape(p) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(a.kind.value, a.target, a.reason.value) for a in p.actions]


def test_everything_matches_is_all_skip() -> None:
    p = plan(D, observed())
    assert all(a.kind is Kind.SKIP for a in p.actions)
    assert p.impact is Impact.NONE
    assert not p.changes


def test_nothing_remote_plans_the_whole_chain() -> None:
    p = plan(D, observed(files={}, job=None, deployment=None, lock=LockRecord()))
    assert shape(p) == [
        ("upload", "wb-fx-train-dddd.zip", "absent"),
        ("train", "wb-fx-jjjj", "upstream changed"),
        ("deploy", "deployment", "upstream changed"),
    ]
    assert p.impact is Impact.FULL
    train = p.actions[1]
    assert train.needs == (p.actions[0].id,)
    assert train.estimate == "800 steps"


def test_changed_dataset_is_rebuild_upload_retrain() -> None:
    old = replace(LOCK, dataset_fp="o" * 64)
    p = plan(D, observed(files={}, job=None, deployment=None, lock=old))
    assert p.actions[0].reason is Reason.CHANGED
    assert "dataset oooooooooooo -> dddddddddddd" in p.actions[0].detail
    assert p.impact is Impact.FULL


def test_changed_hyperparameters_retrain_on_the_existing_upload() -> None:
    old = replace(LOCK, job_fp="o" * 64, job_hyper_parameters={"n_epochs": 300, "batch_size": 4})
    p = plan(D, observed(job=None, deployment=None, lock=old))
    assert shape(p) == [
        ("skip", "wb-fx-train-dddd.zip", "unchanged"),
        ("train", "wb-fx-jjjj", "changed"),
        ("deploy", "deployment", "upstream changed"),
    ]
    assert "hyper_parameters: n_epochs 300 -> 400" in p.actions[1].detail
    assert p.impact is Impact.RETRAIN


def test_changed_aigc_config_is_redeploy_only() -> None:
    other = ObservedDeployment("wb-fx-jjjj-0ld0ld00", "wb-fx-jjjj", "RUNNING", 1, {"old": 1})
    d = replace(D, deploy_fp="b" * 64, deploy_suffix="bbbbbbbb")
    p = plan(d, observed(deployment=None, others=(other,)))
    assert shape(p) == [
        ("skip", "wb-fx-train-dddd.zip", "unchanged"),
        ("skip", "ft-1", "unchanged"),
        ("deploy", "wb-fx-jjjj-bbbbbbbb", "changed"),
        ("undeploy", "wb-fx-jjjj-0ld0ld00", "changed"),
    ]
    assert p.actions[3].needs == (p.actions[2].id,)  # the old one goes once the new one runs
    assert p.impact is Impact.REDEPLOY


def test_running_job_is_waited_for_never_duplicated() -> None:
    running = replace(DONE, status="RUNNING", step=120)
    p = plan(D, observed(job=running, deployment=None))
    assert shape(p) == [
        ("skip", "wb-fx-train-dddd.zip", "unchanged"),
        ("wait", "ft-1", "in progress"),
        ("deploy", "deployment", "upstream changed"),
    ]
    assert "step 120/800" in p.actions[1].detail
    assert p.impact is Impact.WAIT


@pytest.mark.parametrize("status", ["FAILED", "CANCELED"])
def test_failed_job_is_reported_not_retried(status: str) -> None:
    failed = replace(DONE, status=status, code="InternalError.Algo", message="boom at step 100")
    p = plan(D, observed(job=failed, deployment=None))
    assert [a.kind for a in p.actions] == [Kind.SKIP, Kind.BLOCKED]
    assert "boom at step 100" in p.actions[1].detail
    assert "--retry-failed" in p.actions[1].detail
    assert p.impact is Impact.BLOCKED
    retry = plan(D, observed(job=failed, deployment=None), retry_failed=True)
    assert (retry.actions[1].kind, retry.actions[1].reason) == (Kind.TRAIN, Reason.REMOTE_FAILED)


def test_deployment_deleted_out_of_band_is_redeployed() -> None:
    p = plan(D, observed(deployment=None))
    assert shape(p)[-1] == ("deploy", "wb-fx-jjjj-aaaaaaaa", "drifted")
    assert "deleted out of band" in p.actions[-1].detail


@pytest.mark.parametrize(
    ("status", "kind"), [("PENDING", Kind.WAIT), ("UPDATING", Kind.WAIT), ("FAILED", Kind.BLOCKED)]
)
def test_deployment_states(status: str, kind: Kind) -> None:
    p = plan(D, observed(deployment=replace(LIVE, status=status)))
    assert p.actions[-1].kind is kind


def test_capacity_change_scales_in_place() -> None:
    p = plan(replace(D, capacity=2), observed())
    assert shape(p)[-1] == ("scale", "wb-fx-jjjj-aaaaaaaa", "changed")


def test_checkpoint_pin_exports_then_deploys_it() -> None:
    d = replace(D, checkpoint="checkpoint-200", deploy_suffix="cccccccc", deploy_fp="c" * 64)
    kept = (
        ObservedCheckpoint("checkpoint-400", None, None),
        ObservedCheckpoint("checkpoint-200", None, None),
    )
    p = plan(d, observed(checkpoints=kept, deployment=None))
    assert shape(p)[-2:] == [
        ("export", "checkpoint-200", "absent"),
        ("deploy", "deployment", "upstream changed"),
    ]
    assert p.impact is Impact.EXPORT
    exporting = (ObservedCheckpoint("checkpoint-200", "PROCESSING", None),)
    assert plan(d, observed(checkpoints=exporting, deployment=None)).actions[-2].kind is Kind.WAIT
    exported = (ObservedCheckpoint("checkpoint-200", "SUCCEEDED", "wb-fx-jjjj-c200"),)
    p = plan(d, observed(checkpoints=exported, deployment=None))
    assert shape(p)[-1] == ("deploy", "wb-fx-jjjj-c200-cccccccc", "changed")
    assert p.actions[-1].params["model_name"] == "wb-fx-jjjj-c200"
    missing = plan(d, observed(checkpoints=kept[:1], deployment=None))
    assert missing.actions[-1].kind is Kind.BLOCKED
    assert "no checkpoint-200 (kept: checkpoint-400)" in missing.actions[-1].detail


def test_plan_is_pure_and_repeatable() -> None:
    o = observed(files={}, job=None, deployment=None, lock=LockRecord())
    assert plan(D, o) == plan(D, o)


def test_dependents_of_a_failed_action_are_named() -> None:
    from wanbuild.reconcile.loop import _dependents

    p = plan(D, observed(files={}, job=None, deployment=None, lock=LockRecord()))
    assert _dependents(p, p.actions[0].id) == ["train wb-fx-jjjj", "deploy deployment"]
