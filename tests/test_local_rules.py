"""The local backend's rules without torch: which backend trains which model, the frame and
size rules checked before any GPU time, the LoRA key format, the worker's launch command,
the dataset exports, and a base install that never imports the model libraries."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.local_helpers import write_t2v_effect
from wanbuild.local import lora_format
from wanbuild.local.launch import worker_command


def _errors(result: Run) -> list[str]:
    return result.lines("error:")


def test_a_t2v_effect_on_the_hosted_service_is_an_error_naming_the_fix(
    tmp_path: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights", backend="emulator", region="local")
    result = run("validate", str(d))
    assert result.code == 1
    (error,) = _errors(result)
    assert "wan2.2-t2v-a14b trains on this machine: Model Studio does not fine-tune" in error
    assert "apply it with backend=local" in error


def test_a_hosted_model_on_the_local_backend_is_an_error_naming_the_fix(
    tmp_path: Path, run: Callable[..., Run], effect_factory: Callable[..., Path]
) -> None:
    d = effect_factory(
        effect={
            "defaults": [
                "config",
                {"override model": "wan2.2-i2v-flash"},
                {"override region": "cn-beijing"},
                {"override backend": "local"},
                "_self_",
            ]
        }
    )
    result = run("validate", str(d))
    assert result.code == 1
    assert any(
        "wan2.2-i2v-flash is a hosted model (Model Studio); backend=local trains the "
        "open-weights models only" in e
        for e in _errors(result)
    ), result.out
    assert not (tmp_path / "build").exists()


def test_a_catalog_model_the_trainer_does_not_train_is_named(
    tmp_path: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights", model="wan2.2-i2v-a14b")
    result = run("validate", str(d))
    assert result.code == 1
    assert any("local trainer trains text-to-video models only" in e for e in _errors(result))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("hyper_parameters.num_frames=10", "10 frames: wan2.2-t2v-a14b takes 4k+1 frames"),
        ("hyper_parameters.width=20", "20: wan2.2-t2v-a14b takes sizes in multiples of 16"),
        (
            "hyper_parameters.num_frames=13",
            "0.56 s: training reads 13 frames at 16 fps (0.81 s) from each clip; this one shows 9",
        ),
        ("backend.num_processes=3", "a step's batch is shared by backend.num_processes=3"),
    ],
)
def test_local_frame_and_size_rules_are_checked_before_any_gpu_time(
    tmp_path: Path, run: Callable[..., Run], override: str, expected: str
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights")
    assert run("validate", str(d)).code == 0
    result = run("validate", str(d), override)
    assert result.code == 1
    assert any(expected in e for e in _errors(result)), result.out


def test_a_longer_clip_is_said_to_be_read_from_its_start(
    tmp_path: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights", seconds=1.0)
    result = run("validate", str(d))
    assert result.code == 0
    warnings = result.lines("warning:")
    assert (
        sum("1.00 s: trained on its first 0.56 s (9 frames at 16 fps)" in w for w in warnings) == 4
    )


def test_wan_ti2v_5b_reads_24_fps_and_sizes_of_32(tmp_path: Path, run: Callable[..., Run]) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights", model="wan2.2-ti2v-5b")
    result = run("validate", str(d), "hyper_parameters.width=48", "hyper_parameters.num_frames=13")
    assert result.code == 1
    assert any("48: wan2.2-ti2v-5b takes sizes in multiples of 32" in e for e in _errors(result))
    warnings = result.lines("warning:")
    assert any("trained on its first 0.54 s (13 frames at 24 fps)" in w for w in warnings)
    assert any("shot at 16 fps: read at 24 fps by time" in w for w in warnings)
    assert any("some shown twice" in w for w in warnings)


def test_the_t2v_dataset_is_a_flat_zip_of_clips_and_compiled_captions(
    tmp_path: Path, run: Callable[..., Run]
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights")
    assert run("build", str(d)).code == 0
    with zipfile.ZipFile(tmp_path / "build" / "brand" / "train.zip") as z:
        names = sorted(z.namelist())
        rows = [json.loads(line) for line in z.read("data.jsonl").decode().splitlines()]
    assert names == ["city.mp4", "cup.mp4", "dance.mp4", "data.jsonl", "lake.mp4"]
    assert rows[0]["video_path"].endswith("city.mp4")
    assert rows[0]["prompt"] == (
        "A person walks along a quiet city street. Glass towers under a pale sky. "
        "Rendered in the b7rnd brand style: bold flat colours."
    )


@pytest.mark.parametrize("fmt", ["diffsynth", "musubi"])
def test_export_dataset_for_other_trainers(
    tmp_path: Path, run: Callable[..., Run], fmt: str
) -> None:
    d = write_t2v_effect(tmp_path, tmp_path / "weights")
    out = tmp_path / "export"
    result = run("local", "export-dataset", str(d), str(out), "--format", fmt)
    assert result.code == 0, result.out
    clips = sorted(p.name for p in (out / "videos").glob("*.mp4"))
    assert clips == ["city.mp4", "cup.mp4", "dance.mp4", "lake.mp4"]
    if fmt == "diffsynth":
        with (out / "metadata.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["video"] for r in rows] == [
            f"videos/{n}.mp4" for n in ("city", "lake", "cup", "dance")
        ]
        assert rows[0]["prompt"].endswith("Rendered in the b7rnd brand style: bold flat colours.")
    else:
        import tomllib

        doc = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
        assert doc["general"]["resolution"] == [16, 16]
        assert doc["datasets"][0]["target_frames"] == [9]
        assert Path(doc["datasets"][0]["video_directory"]) == (out / "videos").resolve()
        caption = (out / "videos" / "city.txt").read_text(encoding="utf-8")
        assert caption.startswith("A person walks along a quiet city street.")
    again = run("local", "export-dataset", str(d), str(out), "--format", fmt)
    assert again.code == 1
    assert "is not empty" in again.out + again.err


def test_lora_keys_round_trip_between_peft_and_the_exported_format() -> None:
    peft = {
        "blocks.0.attn1.to_q.lora_A.weight": "a",
        "blocks.0.attn1.to_q.lora_B.weight": "b",
        "blocks.1.attn2.to_out.0.lora_A.weight": "c",
        "blocks.1.attn2.to_out.0.lora_B.weight": "d",
    }
    wan = lora_format.to_wan(peft, 16.0, lambda a: f"alpha={a}")
    assert wan == {
        "diffusion_model.blocks.0.self_attn.q.lora_A.weight": "a",
        "diffusion_model.blocks.0.self_attn.q.lora_B.weight": "b",
        "diffusion_model.blocks.0.self_attn.q.alpha": "alpha=16.0",
        "diffusion_model.blocks.1.cross_attn.o.lora_A.weight": "c",
        "diffusion_model.blocks.1.cross_attn.o.lora_B.weight": "d",
        "diffusion_model.blocks.1.cross_attn.o.alpha": "alpha=16.0",
    }
    assert lora_format.from_wan(wan) == peft
    with pytest.raises(ValueError, match="not a LoRA weight of a Wan attention projection"):
        lora_format.to_wan({"blocks.0.ffn.net.0.proj.lora_A.weight": "x"}, 16.0, str)


def test_the_worker_runs_alone_or_under_torch_distributed(tmp_path: Path) -> None:
    assert worker_command(tmp_path, 1) == [
        sys.executable,
        "-m",
        "wanbuild.local.worker",
        str(tmp_path),
    ]
    assert worker_command(tmp_path, 4) == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=4",
        "-m",
        "wanbuild.local.worker",
        str(tmp_path),
    ]


def test_hosted_commands_and_a_local_plan_import_no_model_library(
    tmp_path: Path, effect_factory: Callable[..., Path]
) -> None:
    hosted = effect_factory()
    local = write_t2v_effect(tmp_path, tmp_path / "weights")
    code = (
        "import sys\n"
        "from wanbuild.cli import main\n"
        f"assert main(['validate', {str(hosted)!r}]) == 0\n"
        f"assert main(['plan', {str(hosted)!r}]) == 2\n"
        f"assert main(['plan', {str(local)!r}]) == 2\n"
        "heavy = {'torch', 'diffusers', 'peft', 'transformers', 'accelerate', 'safetensors'}\n"
        "loaded = sorted(heavy & set(sys.modules))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_init_scaffolds_a_local_t2v_effect_that_asks_for_its_weights(
    tmp_path: Path, run: Callable[..., Run]
) -> None:
    made = run("init", "effects/promo", "--model", "wan2.2-t2v-a14b")
    assert made.code == 0, made.out + made.err
    text = (tmp_path / "effects/promo/effect.yaml").read_text(encoding="utf-8")
    assert "  - override backend: local" in text
    assert "video: media/sample_01.mp4" in (tmp_path / "effects/promo/samples.yaml").read_text()
    result = run("validate", "effects/promo")
    assert result.code == 1
    assert any("model.weights: not set" in e for e in _errors(result))


def test_a_checkpoint_without_its_manifest_does_not_exist(tmp_path: Path) -> None:
    from wanbuild.local.jobstate import last_checkpoint

    root = tmp_path / "checkpoints"
    for step, complete in ((4, True), (8, True), (12, False)):
        d = root / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "transformer.safetensors").write_bytes(b"...")
        if complete:
            (d / "manifest.json").write_text(json.dumps({"step": step}))
    (root / ".checkpoint-16.123.tmp").mkdir()  # a worker killed while writing it
    found = last_checkpoint(root)
    assert found is not None
    assert found[0].name == "checkpoint-8"
    assert last_checkpoint(tmp_path / "none") is None


def test_a_dataset_is_registered_by_content_without_a_copy(tmp_path: Path) -> None:
    from wanbuild.local.service import LocalService

    built = tmp_path / "build" / "train.zip"
    built.parent.mkdir()
    with zipfile.ZipFile(built, "w") as z:
        z.writestr("data.jsonl", "{}\n")
    service = LocalService(tmp_path / "state", tmp_path / "library", lambda _name: None)
    first = service.upload_file(built, api="native", description="wb:brand:train:abc")
    again = service.upload_file(built, api="native", description="wb:brand:train:abc")
    (blob,) = (tmp_path / "state" / "blobs").iterdir()
    assert blob.stat().st_ino == built.stat().st_ino  # a hard link of the built zip
    assert first.file_id != again.file_id
    assert {f.file_id for f in service.list_files(api="native")} == {first.file_id, again.file_id}
    assert service.get_file(first.file_id, api="native").description == "wb:brand:train:abc"


def test_a_worker_that_keeps_dying_at_one_checkpoint_fails_the_job() -> None:
    from wanbuild.local.jobstate import MAX_RESUMES, resume_verdict

    state: dict[str, object] = {"status": "RUNNING"}
    for n in range(1, MAX_RESUMES + 1):  # killed: resumed from checkpoint-4 again
        changes = resume_verdict(state, 4)
        assert changes == {"resumed_at": 4, "resumes": n}
        state.update(changes)
    failed = resume_verdict(state, 4)
    assert failed["status"] == "FAILED"
    assert "died 3 times after resuming from step 4" in failed["message"]
    assert "worker.out" in failed["message"]
    # a worker that got as far as its next checkpoint starts the count afresh
    assert resume_verdict(state, 8) == {"resumed_at": 8, "resumes": 1}
