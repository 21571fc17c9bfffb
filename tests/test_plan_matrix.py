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
    Pending,
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
)
FILES = {"train": ObservedFile("file-1", "wb-fx-train-dddd.zip", "train")}
# The service names things as it likes: the deployment's name has nothing of the model's.
DONE = ObservedJob("ft-1", "ft-1", "SUCCEEDED", "wan2.2-i2v-flash-ft-1")
LIVE = ObservedDeployment("wan2.2-i2v-flash-5e1f", "wan2.2-i2v-flash-ft-1", "RUNNING", 1, None)
LOCK = LockRecord(
    dataset_fp="d" * 64,
    job_fp="j" * 64,
    job_id="ft-1",
    job_hyper_parameters=HP,
    deploy_fp="a" * 64,
    deployed_model="wan2.2-i2v-flash-5e1f",
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
    d = replace(D, deploy_fp="b" * 64)
    p = plan(d, observed(deployment=None, others=(LIVE,)))
    assert shape(p) == [
        ("skip", "wb-fx-train-dddd.zip", "unchanged"),
        ("skip", "ft-1", "unchanged"),
        ("deploy", "wan2.2-i2v-flash-ft-1", "changed"),
        ("undeploy", "wan2.2-i2v-flash-5e1f", "changed"),
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
    assert shape(p)[-1] == ("deploy", "wan2.2-i2v-flash-ft-1", "drifted")
    assert "wan2.2-i2v-flash-5e1f was deleted out of band" in p.actions[-1].detail


@pytest.mark.parametrize(
    ("status", "kind"), [("PENDING", Kind.WAIT), ("UPDATING", Kind.WAIT), ("FAILED", Kind.BLOCKED)]
)
def test_deployment_states(status: str, kind: Kind) -> None:
    p = plan(D, observed(deployment=replace(LIVE, status=status)))
    assert p.actions[-1].kind is kind


def test_capacity_is_not_a_change_for_lora() -> None:
    """plan=lora takes capacity as "invalid but must be filled": nothing to scale."""
    p = plan(replace(D, capacity=2), observed(deployment=replace(LIVE, capacity=1)))
    assert shape(p)[-1] == ("skip", "wan2.2-i2v-flash-5e1f", "unchanged")


def test_checkpoint_pin_exports_then_deploys_it() -> None:
    d = replace(D, checkpoint="checkpoint-200", deploy_fp="c" * 64)
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
    exported = (ObservedCheckpoint("checkpoint-200", "SUCCEEDED", "wan-ft-1-c200"),)
    p = plan(d, observed(checkpoints=exported, deployment=None))
    assert shape(p)[-1] == ("deploy", "wan-ft-1-c200", "changed")
    assert p.actions[-1].params["model_name"] == "wan-ft-1-c200"
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


# A create whose reply never reached the lock: settled by its candidates, never repeated blindly.
NEW = LockRecord()


def pending(action: str, *candidates: str, settled: bool = True, split: str | None = None):  # type: ignore[no-untyped-def]
    return Pending(action, action, "2026-01-01T00:00:00Z", candidates, settled, split)


def test_an_unrecorded_job_with_one_candidate_is_adopted_not_trained_again() -> None:
    o = observed(job=None, deployment=None, lock=NEW, pending=(pending("create_job", "ft-9"),))
    p = plan(D, o)
    assert shape(p)[1:] == [
        ("adopt", "ft-9", "unrecorded create"),
        ("deploy", "deployment", "upstream changed"),
    ]
    assert Kind.TRAIN not in {a.kind for a in p.actions}


@pytest.mark.parametrize(
    ("candidates", "settled", "kind", "says"),
    [
        ((), False, Kind.WAIT, "waiting for the service to list it"),
        ((), True, Kind.BLOCKED, "wanbuild apply --forget-pending fx"),
        (("ft-8", "ft-9"), True, Kind.BLOCKED, "any of ft-8, ft-9: `wanbuild adopt fx ID`"),
    ],
)
def test_an_unrecorded_job_never_leads_to_a_second_one(
    candidates: tuple[str, ...], settled: bool, kind: Kind, says: str
) -> None:
    p_ = pending("create_job", *candidates, settled=settled)
    p = plan(D, observed(job=None, deployment=None, lock=NEW, pending=(p_,)), retry_failed=True)
    assert p.actions[1].kind is kind
    assert says in p.actions[1].detail
    assert Kind.TRAIN not in {a.kind for a in p.actions}


def test_an_unrecorded_upload_that_never_appeared_is_uploaded_again() -> None:
    gone = pending("upload", settled=True, split="train")
    p = plan(D, observed(files={}, job=None, deployment=None, lock=NEW, pending=(gone,)))
    assert shape(p)[0] == ("upload", "wb-fx-train-dddd.zip", "absent")
    assert "never appeared" in p.actions[0].detail
    waiting = pending("upload", settled=False, split="train")
    p = plan(D, observed(files={}, job=None, deployment=None, lock=NEW, pending=(waiting,)))
    assert [a.kind for a in p.actions] == [Kind.WAIT, Kind.TRAIN, Kind.DEPLOY]


def test_an_unrecorded_deployment_is_adopted_or_made_again_once_settled() -> None:
    lock = replace(LOCK, deploy_fp=None, deployed_model=None)
    one = pending("create_deployment", "wan2.2-i2v-flash-77aa")
    p = plan(D, observed(deployment=None, lock=lock, pending=(one,)))
    assert shape(p)[-1] == ("adopt", "wan2.2-i2v-flash-77aa", "unrecorded create")
    none = pending("create_deployment")
    p = plan(D, observed(deployment=None, lock=lock, pending=(none,)))
    assert shape(p)[-1] == ("deploy", "wan2.2-i2v-flash-ft-1", "absent")


def test_a_lost_lock_names_what_it_found_by_kind_and_the_command_that_settles_it() -> None:
    """Uploads are not jobs: a fresh clone that finds only another machine's uploads is told
    so, and how to settle them; a job found is named as a job."""
    uploads = ("file-a", "file-b")
    o = observed(
        files={}, job=None, deployment=None, lock=NEW, lookalikes=uploads, lookalike_uploads=uploads
    )
    detail = plan(D, o).actions[-1].detail
    assert "holds 2 uploads (file-a, file-b) named like its" in detail
    assert "training job" not in detail
    assert "`wanbuild adopt fx JOB_ID` for a job trained on them" in detail
    assert "`wanbuild adopt fx FILE_ID` for each upload" in detail
    assert "another machine's apply" in detail
    o = replace(o, lookalikes=("ft-7", *uploads))
    detail = plan(D, o).actions[-1].detail
    assert "holds 1 training job (ft-7) and 2 uploads (file-a, file-b)" in detail
    assert "`wanbuild adopt fx JOB_ID` for the job" in detail


def test_objects_named_like_ours_but_unrecorded_stop_the_plan() -> None:
    o = observed(files={}, job=None, deployment=None, lock=NEW, lookalikes=("ft-7",))
    p = plan(D, o)
    assert p.actions[-1].kind is Kind.BLOCKED
    assert "`wanbuild adopt fx JOB_ID`" in p.actions[-1].detail
    lock = replace(LOCK, deploy_fp=None, deployed_model=None)
    p = plan(D, observed(deployment=None, lock=lock, lookalikes=("wan2.2-i2v-flash-1",)))
    assert p.actions[-1].kind is Kind.BLOCKED
