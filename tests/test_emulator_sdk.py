"""The official `dashscope` SDK, as an outside client, drives the whole flow against
`wanbuild emulator serve` over real HTTP; every response must parse in the SDK."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.emulator_helpers import built_zip, served


@pytest.fixture
def sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DASHSCOPE_CONFIG", str(tmp_path / "home" / "config.toml"))
    monkeypatch.delenv("DASHSCOPE_HTTP_BASE_URL", raising=False)
    import dashscope

    with served(tmp_path / "state") as url:
        monkeypatch.setattr(dashscope, "base_http_api_url", f"{url}/api/v1")
        monkeypatch.setattr(dashscope, "api_key", "sk-sdk-test")
        yield url


def until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_full_flow_with_the_official_sdk(sdk: str, tmp_path: Path) -> None:

    from dashscope import Deployments, Files, FineTunes, VideoSynthesis
    from dashscope.client.base_api import CreateMixin, GetMixin

    class Raw(CreateMixin, GetMixin):
        SUB_PATH = "deployments"

    train = built_zip(tmp_path / "ds")
    up = Files.upload(str(train), purpose="fine-tune", description="wanbuild dataset abc123")
    assert up.status_code == 200, up
    file_id = up.output["uploaded_files"][0]["file_id"]
    assert Files.get(file_id).output["description"] == "wanbuild dataset abc123"
    assert any(f["file_id"] == file_id for f in Files.list(page=1, page_size=10).output["files"])

    hp = {
        "n_epochs": 400,
        "batch_size": 4,
        "learning_rate": 2e-5,
        "eval_epochs": 50,
        "max_pixels": 262144,
    }
    job = FineTunes.call(
        model="wan2.2-i2v-flash",
        training_file_ids=[file_id],
        mode="efficient_sft",
        hyper_parameters=hp,
    )
    assert job.status_code == 200, job
    job_id = job.output.job_id
    assert job.output.status == "PENDING"
    assert job.output.finetuned_output.startswith("wan2.2-i2v-flash-ft-")
    until(lambda: FineTunes.get(job_id).output.status == "SUCCEEDED")
    done = FineTunes.get(job_id)
    assert done.output.usage > 0
    assert done.output.end_time
    listed = FineTunes.list(page_no=1, page_size=10)
    assert listed.status_code == 200
    assert job_id in [j["job_id"] for j in listed.output["jobs"]]
    logs = FineTunes.logs(job_id)
    assert logs.status_code == 200
    assert logs.output["logs"][-1].endswith("##FT_COMPLETE##")

    ckpts = GetMixin.get(None, path=f"fine-tunes/{job_id}/checkpoints")
    assert ckpts.status_code == 200
    names = [c["checkpoint"] for c in ckpts.output]
    assert "checkpoint-400" in names
    exported = GetMixin.get(
        None,
        path=f"fine-tunes/{job_id}/export/checkpoint-200",
        params={"model_name": "money-rain-c200"},
    )
    assert exported.status_code == 200
    assert exported.output is True

    def exported_model() -> str | None:
        for c in GetMixin.get(None, path=f"fine-tunes/{job_id}/checkpoints").output:
            if c["checkpoint"] == "checkpoint-200" and c.get("status") == "SUCCEEDED":
                return str(c["model_name"])
        return None

    until(lambda: exported_model() is not None)
    assert exported_model() == f"{done.output.finetuned_output}-c200"

    aigc = {
        "use_input_prompt": False,
        "prompt": "Describe the image. s86b5p ...",
        "lora_prompt_default": "Then the s86b5p money rain effect begins.",
    }
    dep = Raw.call(
        {
            "model_name": done.output.finetuned_output,
            "capacity": 1,
            "plan": "lora",
            "aigc_config": aigc,
        }
    )
    assert dep.status_code == 200, dep
    name = dep.output["deployed_model"]
    until(lambda: Deployments.get(name).output.status == "RUNNING")
    got = Deployments.get(name)
    assert got.output.aigc_config == aigc
    assert name in [d["deployed_model"] for d in Deployments.list().output["deployments"]]
    scaled = Deployments.scale(name, capacity=2)
    assert scaled.status_code == 200
    assert scaled.output.status == "UPDATING"

    task = VideoSynthesis.async_call(
        model=name, img_url="https://example.com/a.jpg", resolution="480P", prompt_extend=False
    )
    assert task.status_code == 200, task
    until(lambda: VideoSynthesis.fetch(task).output.task_status == "SUCCEEDED")
    result = VideoSynthesis.fetch(task)
    video = httpx.get(result.output.video_url, timeout=30)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"

    deleted = Deployments.delete(name)
    assert deleted.status_code == 200
    assert deleted.output.status == "DELETING"

    long_run = {**hp, "n_epochs": 200_000, "eval_epochs": 20_000}  # still running when cancelled
    second = FineTunes.call(
        model="wan2.2-i2v-flash",
        training_file_ids=[file_id],
        mode="efficient_sft",
        hyper_parameters=long_run,
    )
    cancelled = FineTunes.cancel(second.output.job_id)
    assert cancelled.status_code == 200
    until(lambda: FineTunes.get(second.output.job_id).output.status == "CANCELED")
    assert FineTunes.delete(second.output.job_id).status_code == 200
    assert FineTunes.get(second.output.job_id).status_code == 404


def test_sdk_sees_documented_errors(sdk: str, tmp_path: Path) -> None:

    from dashscope import FineTunes, VideoSynthesis

    missing = FineTunes.get("ft-202601010000-dead")
    assert missing.status_code == 404
    assert missing.code == "NotFound"
    bad = FineTunes.call(
        model="wan2.2-i2v-flash",
        training_file_ids=["nope"],
        mode="efficient_sft",
        hyper_parameters={},
    )
    assert bad.status_code == 400
    assert bad.code == "InvalidParameter"
    unknown = VideoSynthesis.fetch("00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 200
    assert unknown.output.task_status == "UNKNOWN"
