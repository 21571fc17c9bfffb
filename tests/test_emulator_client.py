"""wanbuild's own client drives the whole flow, in-process (ASGI) and over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.emulator_helpers import BEIJING, built_zip, in_process, served
from wanbuild.emulator.multipart import BATCH, INLINE
from wanbuild.emulator.store import Store as EmulatorStore
from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.transport import InProcessTransport

Wait = Callable[[Callable[[], bool]], None]


@pytest.fixture(params=["in-process", "http"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Client, Wait]]:
    if request.param == "in-process":
        client, clock = in_process(tmp_path / "state")

        def advance(check: Callable[[], bool]) -> None:
            for _ in range(10_000):
                if check():
                    return
                clock.advance(30)
            raise AssertionError("never happened")

        yield client, advance
        return
    with served(tmp_path / "state") as url:
        client = Client(url, "sk-test-key", backoff=0.01)

        def poll(check: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 30
            while not check():
                assert time.monotonic() < deadline, "timed out"
                time.sleep(0.05)

        yield client, poll
        client.close()


def data_url(color: str) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("api", ["native", "compatible"])
def test_full_flow(remote: tuple[Client, Wait], tmp_path: Path, api: str) -> None:
    client, wait = remote
    train = built_zip(tmp_path / "ds", n_validation=2)
    valid = train.with_name("valid.zip")
    seen: list[int] = []
    up = client.upload_file(
        train,
        api=api,
        description="wanbuild:abc",  # type: ignore[arg-type]
        progress=lambda done, total: seen.append(done),
    )
    assert seen[-1] == train.stat().st_size
    assert up.file_id.startswith("file-ft-") if api == "compatible" else len(up.file_id) == 36
    assert up.file_id in [f.file_id for f in client.list_files(api=api)]  # type: ignore[arg-type]
    assert client.get_file(up.file_id, api=api).size == train.stat().st_size  # type: ignore[arg-type]
    val = client.upload_file(valid, api=api)  # type: ignore[arg-type]

    job = client.create_job(
        "wan2.2-i2v-flash",
        [up.file_id],
        validation_file_ids=[val.file_id],
        hyper_parameters={"n_epochs": 400},
        model_name="fx-model-abc",
    )
    assert job.status == "PENDING"
    assert job.finetuned_output == "fx-model-abc"
    assert job.hyper_parameters == {"n_epochs": 400}  # only what was set, as documented
    wait(lambda: client.get_job(job.job_id).status in ("RUNNING", "SUCCEEDED"))
    wait(lambda: client.get_job(job.job_id).status == "SUCCEEDED")
    done = client.get_job(job.job_id)
    # 6 samples, batch 4 -> 2 steps per epoch; 400 epochs -> 800 steps
    assert done.usage == 800 * 4 * (262144 // 1024) * 5
    assert done.output_cnt == 8
    assert any("step 800/800" in line for line in client.job_logs(done.job_id).logs)
    assert [c.checkpoint for c in client.list_checkpoints(job.job_id)][:2] == [
        "checkpoint-400",
        "checkpoint-350",
    ]
    assert client.validation_results(job.job_id)[0] == "checkpoint-400"
    details = client.validation_details(job.job_id, "checkpoint-400")
    assert details["total"] == 2
    preview = client.download(details["list"][0]["video_path"])
    assert preview[4:8] == b"ftyp"
    first = client.download(details["list"][0]["first_frame_path"])
    assert first[:2] == b"\xff\xd8"  # the JPEG from the uploaded validation zip

    assert client.export_checkpoint(job.job_id, "checkpoint-300", "fx-c300") is True
    wait(lambda: any(c.model_name for c in client.list_checkpoints(job.job_id)))
    exported = next(c for c in client.list_checkpoints(job.job_id) if c.model_name)
    assert exported.model_name == "fx-model-abc-c300"

    aigc = {"use_input_prompt": False, "prompt": "p zq7x9k", "lora_prompt_default": "l zq7x9k"}
    dep = client.create_deployment(exported.model_name, aigc_config=aigc)
    assert dep.status == "PENDING"
    wait(lambda: client.get_deployment(dep.deployed_model).status == "RUNNING")
    assert dep.deployed_model in [d.deployed_model for d in client.iter_deployments()]
    assert client.scale_deployment(dep.deployed_model, 2).status == "UPDATING"
    wait(lambda: client.get_deployment(dep.deployed_model).status == "RUNNING")
    assert client.get_deployment(dep.deployed_model).capacity == 2

    task_id = client.submit_video(dep.deployed_model, data_url("red"))
    wait(lambda: client.get_task(task_id).task_status == "SUCCEEDED")
    task = client.get_task(task_id)
    assert task.video_url
    out = tmp_path / "out.mp4"
    out.write_bytes(client.download(task.video_url))
    from wanbuild.media.probe import probe_media_facts

    facts = probe_media_facts(out, "video")
    assert (facts.width, facts.height, facts.codec) == (64, 48, "h264")

    assert client.delete_deployment(dep.deployed_model).status == "DELETING"
    wait(lambda: dep.deployed_model not in [d.deployed_model for d in client.iter_deployments()])
    with pytest.raises(PermanentRemoteError) as gone:
        client.get_deployment(dep.deployed_model)
    assert gone.value.status == 404

    # long enough (400,000 steps) to still be running over HTTP at a time scale of 1e6
    second = client.create_job(
        "wan2.2-i2v-flash",
        [up.file_id],
        hyper_parameters={"n_epochs": 200_000, "eval_epochs": 20_000},
    )
    with pytest.raises(PermanentRemoteError) as running:
        client.delete_job(second.job_id)
    assert running.value.code == "UnsupportedOperation"
    client.cancel_job(second.job_id)
    wait(lambda: client.get_job(second.job_id).status == "CANCELED")
    client.delete_job(second.job_id)
    assert second.job_id not in [j.job_id for j in client.iter_jobs()]
    client.delete_file(up.file_id, api=api)  # type: ignore[arg-type]
    assert up.file_id not in [f.file_id for f in client.list_files(api=api)]  # type: ignore[arg-type]


def test_uploads_keep_every_byte(remote: tuple[Client, Wait], tmp_path: Path) -> None:
    """Empty, small, just over the size hashed in one piece, and several batches with a tail
    that no block size divides: each stored byte for byte, under the md5 of what was sent."""
    client, _wait = remote
    store = EmulatorStore(tmp_path / "state")
    rng = random.Random(7)
    for size in (0, 1000, INLINE, INLINE + 1, 2 * BATCH + 4097 + 13):
        src = tmp_path / f"up-{size}.zip"
        src.write_bytes(rng.randbytes(size))
        up = client.upload_file(src, api="native")
        doc = store.get("file", up.file_id, "cn-beijing")
        assert doc is not None
        assert (doc["size"], doc["md5"]) == (size, hashlib.md5(src.read_bytes()).hexdigest())
        assert (store.blobs / up.file_id).read_bytes() == src.read_bytes(), size


def test_a_form_of_several_files_keeps_each(tmp_path: Path) -> None:
    """A large part followed by small ones in one request (the later parts begin inside a
    chunk that still holds the large part's last bytes)."""
    rng = random.Random(8)
    blobs = {"big.zip": rng.randbytes(BATCH + 5), "a.zip": b"a" * 10, "b.zip": rng.randbytes(3)}
    with served(tmp_path / "state") as url:
        reply = httpx.post(
            f"{url}/api/v1/files",
            headers={"Authorization": "Bearer sk-test-key"},
            files=[("files", (name, data)) for name, data in blobs.items()],
            data={"purpose": "fine-tune"},
            timeout=60,
        )
    assert reply.status_code == 200, reply.text
    uploaded = reply.json()["data"]["uploaded_files"]
    assert [u["name"] for u in uploaded] == list(blobs)
    stored = EmulatorStore(tmp_path / "state").blobs
    for u in uploaded:
        assert (stored / u["file_id"]).read_bytes() == blobs[u["name"]]


def test_image_generation(tmp_path: Path) -> None:
    client, clock = in_process(tmp_path / "state")
    train = built_zip(tmp_path / "ds", kind="i2i")
    up = client.upload_file(train, api="native")
    job = client.create_job(
        "wan2.7-image-pro",
        [up.file_id],
        hyper_parameters={
            "generation_type": "i2i",
            "max_pixels": "1k",
            "val_img_size": "1k",
            "max_token_length": "1k",
        },
    )
    clock.advance(60 + 800 * 22 + 1)
    done = client.get_job(job.job_id)
    assert done.status == "SUCCEEDED"
    assert done.usage == 800 * 128000  # the guide's 1K figure: 64,000,000 tokens per 500 steps
    dep = client.create_deployment(str(done.finetuned_output))
    clock.advance(301)
    task_id = client.submit_image(
        dep.deployed_model, "zq7x9k, a knight", image_url=data_url("blue")
    )
    clock.advance(100)
    url = client.get_task(task_id).image_url
    assert url
    assert client.download(url)[:8] == b"\x89PNG\r\n\x1a\n"


def test_region_comes_from_the_host(tmp_path: Path) -> None:
    client, _ = in_process(tmp_path / "state")
    intl = Client(
        "https://dashscope-intl.aliyuncs.com", "k", transport=client._http._transport
    )  # same emulator, other region
    train = built_zip(tmp_path / "ds", n_train=10)
    up = intl.upload_file(train, api="compatible")
    assert up.file_id not in [f.file_id for f in client.list_files(api="compatible")]
    with pytest.raises(
        PermanentRemoteError, match="does not support fine-tuning in ap-southeast-1"
    ):
        intl.create_job("wan2.7-image-pro", [up.file_id], hyper_parameters={})
    assert BEIJING in client.base_url


def test_a_request_in_flight_when_the_embedded_emulator_stops_fails_at_once() -> None:
    """A listing made in the background may still be waiting when the run closes its
    session: it fails, rather than waiting forever for a loop that no longer runs (and
    holding the process at exit)."""
    started = threading.Event()

    async def never_answers(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    transport = InProcessTransport(never_answers)
    failed: list[BaseException] = []

    def ask() -> None:
        with httpx.Client(transport=transport, base_url="http://emulator") as http:
            try:
                http.get("/api/v1/fine-tunes")
            except httpx.TransportError as e:
                failed.append(e)

    asking = threading.Thread(target=ask)
    asking.start()
    assert started.wait(timeout=10)
    transport.close()
    asking.join(timeout=10)
    assert not asking.is_alive()
    assert "stopped before answering" in str(failed[0])
    with pytest.raises(httpx.TransportError, match="stopped"):  # and any request after it
        transport.handle_request(httpx.Request("GET", "http://emulator/api/v1/files"))
