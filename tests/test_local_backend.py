"""backend=local end to end on the tiny random Wan 2.2 model, on the CPU: apply trains in a
detached worker, checkpoints carry preview clips, the export loads into a fresh diffusers
pipeline and changes what it makes, destroy unpublishes; a killed worker is resumed from its
last checkpoint by the next apply, never twice at once; a killed apply leaves the worker
training; a retrain after a hyperparameter change encodes nothing again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tests.conftest import Run  # noqa: E402
from tests.helpers import edit_samples  # noqa: E402
from tests.local_helpers import (  # noqa: E402
    job_dirs,
    local_root,
    log,
    state,
    wait_for,
    write_t2v_effect,
)
from wanbuild.local import jobstate  # noqa: E402
from wanbuild.local.worker import HOLD_ENV  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wanbuild.cli import main

    out = tmp_path_factory.mktemp("models") / "tiny-wan"
    assert main(["local", "tiny-model", str(out)]) == 0
    return out


def _transformer_out(pipe: object, expert: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 16, 3, 4, 4, generator=g)
    text = torch.randn(1, 7, 32, generator=g)
    module = getattr(pipe, expert)
    with torch.no_grad():
        out: torch.Tensor = module(
            hidden_states=x,
            timestep=torch.tensor([500.0]),
            encoder_hidden_states=text,
            return_dict=False,
        )[0]
    return out


def _frames(pipe: object) -> object:
    return pipe(  # type: ignore[operator]
        prompt="A bakery window. Rendered in the b7rnd brand style: bold flat colours.",
        width=16,
        height=16,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]


def test_apply_trains_exports_publishes_and_destroy_unpublishes(
    tmp_path: Path, tiny: Path, run: Callable[..., Run]
) -> None:
    import av
    import numpy as np
    from diffusers import WanPipeline

    d = write_t2v_effect(tmp_path, tiny)
    first = run("apply", "--wait", str(d))
    assert first.code == 0, first.out + first.err
    assert "backend: this machine (local training" in first.out
    assert "converged: live as" in first.out

    (job,) = job_dirs(tmp_path)
    assert state(job)["status"] == "SUCCEEDED"
    assert state(job)["step"] == 8  # 4 epochs x ceil(4 / 2)
    # a checkpoint every eval_epochs (2): at steps 4 and 8, each with its preview clip
    checkpoints = sorted(p.name for p in (job / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-4", "checkpoint-8"]
    for name in checkpoints:
        manifest = json.loads((job / "checkpoints" / name / "manifest.json").read_text())
        assert manifest["experts"] == ["transformer", "transformer_2"]
        (preview,) = manifest["previews"]
        with av.open(str(job / "checkpoints" / name / preview["video"])) as clip:
            frames = list(clip.decode(video=0))
        assert (len(frames), frames[0].width, frames[0].height) == (9, 16, 16)
        assert "A flower stall." in preview["prompt"]

    library = local_root(tmp_path) / "library"
    (sidecar,) = library.glob("*.wanbuild.json")
    published = json.loads(sidecar.read_text())
    assert published["base_model"] == "wan2.2-t2v-a14b"
    assert published["trigger"] == "b7rnd"
    assert published["checkpoint"] == "checkpoint-8"
    assert "b7rnd" in published["aigc_config"]["lora_prompt_default"]
    high = library / published["files"]["transformer"]
    low = library / published["files"]["transformer_2"]
    assert high.name.endswith("-high_noise.safetensors")
    assert low.name.endswith("-low_noise.safetensors")

    # the file's metadata says what it is
    from safetensors import safe_open

    with safe_open(str(high), "pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    assert meta["wanbuild.base_model"] == "wan2.2-t2v-a14b"
    assert meta["wanbuild.trigger"] == "b7rnd"
    assert meta["wanbuild.expert"] == "transformer"
    assert len(meta["wanbuild.dataset"]) > 0
    assert "diffusion_model.blocks.0.self_attn.q.lora_A.weight" in keys

    # loaded the way a user loads it, into a fresh pipeline: the output changes
    pipe = WanPipeline.from_pretrained(str(tiny))
    pipe.set_progress_bar_config(disable=True)
    base = {e: _transformer_out(pipe, e) for e in ("transformer", "transformer_2")}
    base_frames = _frames(pipe)
    pipe.load_lora_weights(str(high), adapter_name="high")
    pipe.load_lora_weights(str(low), adapter_name="low", load_into_transformer_2=True)
    for expert in ("transformer", "transformer_2"):
        assert not torch.allclose(_transformer_out(pipe, expert), base[expert], atol=1e-4)
    assert np.abs(_frames(pipe) - base_frames).max() > 0

    again = run("plan", str(d))
    assert again.code == 0, again.out
    assert "0 to change, 0 waiting, 4 unchanged" in again.out

    gone = run("destroy", "--yes", str(d))
    assert gone.code == 0, gone.out
    assert list(library.iterdir()) == []
    after = run("plan", str(d))
    assert after.code == 2
    assert "+ deploy" in after.out
    assert "+ train" not in after.out


def test_a_killed_worker_is_resumed_from_its_last_checkpoint_never_twice_at_once(
    tmp_path: Path, tiny: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = tmp_path / "hold"
    hold.write_text("6")  # mid-epoch 3: checkpoint-4 is complete, steps 5 and 6 are not
    monkeypatch.setenv(HOLD_ENV, str(hold))
    # fp16: the loss scale is resumed with the optimizer
    d = write_t2v_effect(tmp_path, tiny, hp={"precision": "fp16"})
    started = run("apply", str(d))  # returns: the worker trains on
    assert started.code == 0, started.out
    assert "in progress: training" in started.out
    (job,) = job_dirs(tmp_path)
    wait_for("step 6", lambda: state(job).get("step") == 6)
    pid = state(job)["pid"]
    assert (job / "checkpoints" / "checkpoint-4" / "manifest.json").exists()

    # while it lives, applies and plans never start a second worker
    assert run("apply", str(d)).code == 0
    assert "step 6/8" in run("status", str(d)).out
    assert sum("worker started" in line for line in log(job)) == 1

    os.kill(pid, signal.SIGKILL)
    wait_for("the worker's lock", lambda: not jobstate.worker_alive(job))
    assert state(job)["status"] == "RUNNING"  # as it was when killed
    looked = run("status", str(d))
    assert "the next apply resumes it from checkpoint-4 (step 4)" in looked.out
    assert sum("worker started" in line for line in log(job)) == 1  # status only reports

    hold.unlink()
    resumed = run("apply", "--wait", str(d))
    assert resumed.code == 0, resumed.out + resumed.err
    assert job_dirs(tmp_path) == [job]  # the same job: never trained from scratch again
    lines = log(job)
    assert sum("worker started" in line for line in lines) == 2
    assert any("training resumed from step 4, 8 steps in all" in line for line in lines)
    steps = [line.split("step ")[1].split("/")[0] for line in lines if " loss " in line]
    assert steps == ["1", "2", "3", "4", "5", "6", "5", "6", "7", "8"]
    assert state(job)["status"] == "SUCCEEDED"
    assert state(job)["resumed_from"] == 4


def test_a_killed_apply_leaves_the_worker_training(
    tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = tmp_path / "hold"
    hold.write_text("2")
    monkeypatch.setenv(HOLD_ENV, str(hold))
    d = write_t2v_effect(tmp_path, tiny)
    apply = subprocess.Popen(
        [sys.executable, "-m", "wanbuild", "apply", "--wait", str(d)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("a job", lambda: bool(job_dirs(tmp_path)))
        (job,) = job_dirs(tmp_path)
        wait_for("step 2", lambda: state(job).get("step") == 2)
    finally:
        apply.kill()
        apply.wait()
    assert jobstate.worker_alive(job)
    hold.unlink()
    wait_for("the job's end", lambda: state(job).get("status") == "SUCCEEDED")
    assert state(job)["step"] == 8
    assert sum("worker started" in line for line in log(job)) == 1


def test_a_retrain_encodes_nothing_again_and_a_caption_edit_only_its_sample(
    tmp_path: Path, tiny: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tiny, validation=False, hp={"n_epochs": 1, "eval_epochs": 1})
    assert run("apply", "--wait", str(d)).code == 0
    (first,) = job_dirs(tmp_path)
    assert (state(first)["encoded"], state(first)["cached"]) == (4, 0)

    lr = run("plan", str(d), "hyper_parameters.learning_rate=2e-3")
    assert lr.code == 2
    assert "+ upload" not in lr.out
    assert "+ train" in lr.out
    assert run("apply", "--wait", str(d), "hyper_parameters.learning_rate=2e-3").code == 0
    second = next(j for j in job_dirs(tmp_path) if j != first)
    assert (state(second)["encoded"], state(second)["cached"]) == (0, 4)

    edit_samples(d, "train", 2, subject="A glazed ceramic cup stands on an oak table.")
    assert run("apply", "--wait", str(d)).code == 0
    third = next(j for j in job_dirs(tmp_path) if j not in (first, second))
    assert (state(third)["encoded"], state(third)["cached"]) == (1, 3)


def test_try_generates_with_the_published_lora(
    tmp_path: Path, tiny: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tiny, validation=False, hp={"n_epochs": 1, "eval_epochs": 1})
    assert run("apply", "--wait", str(d)).code == 0
    tried = run("try", str(d), "--prompt", "A bakery window at dawn.")
    assert tried.code == 0, tried.out + tried.err
    (saved,) = (tmp_path / ".wanbuild" / "try" / "brand").glob("*.mp4")
    import av

    with av.open(str(saved)) as clip:
        assert len(list(clip.decode(video=0))) == 9
    assert "the effect's text appended" in tried.err


def test_two_processes_train_one_job_under_torch_distributed(
    tmp_path: Path, tiny: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tiny, validation=False)
    done = run("apply", "--wait", str(d), "backend.num_processes=2")
    assert done.code == 0, done.out + done.err
    (job,) = job_dirs(tmp_path)
    # batch_size is a step's batch whatever the processes: the same 8 steps as on one
    assert any("training started, 8 steps in all, 2 processes" in line for line in log(job))
    assert state(job)["status"] == "SUCCEEDED"
    assert state(job)["step"] == 8
    assert sorted(p.name for p in (job / "checkpoints").iterdir()) == [
        "checkpoint-4",
        "checkpoint-8",
    ]
