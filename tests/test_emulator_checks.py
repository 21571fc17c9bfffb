"""The emulator's documented errors, its dataset checks, faults on demand, and persistence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.emulator_helpers import BEIJING, CONF, built_zip, in_process, served
from wanbuild.config.catalog import load_catalog
from wanbuild.emulator.app import create_app
from wanbuild.emulator.faults import Faults
from wanbuild.remote.client import Client
from wanbuild.remote.errors import PermanentRemoteError, TemporaryRemoteError
from wanbuild.remote.transport import InProcessTransport

HP = {"n_epochs": 400}


def raw(tmp_path: Path, **kw: object) -> httpx.Client:
    app = create_app(tmp_path / "state", load_catalog(CONF), **kw)  # type: ignore[arg-type]
    return httpx.Client(base_url=BEIJING, transport=InProcessTransport(app))


def test_documented_error_envelopes(tmp_path: Path) -> None:
    http = raw(tmp_path)
    auth = {"Authorization": "Bearer sk-x"}
    r = http.get("/api/v1/fine-tunes")
    assert r.status_code == 401
    assert r.json()["code"] == "InvalidApiKey"
    assert r.json()["message"] == "No API-key provided."
    assert r.headers["x-request-id"] == r.json()["request_id"]
    r = http.get("/api/v1/fine-tunes/ft-202601010000-dead", headers=auth)
    assert (r.status_code, r.json()["code"]) == (404, "NotFound")
    r = http.post(
        "/api/v1/services/aigc/video-generation/video-synthesis",
        headers=auth,
        json={"model": "m", "input": {"img_url": "x"}},
    )
    assert r.status_code == 403
    assert r.json()["message"] == "current user api does not support synchronous calls"
    r = http.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", headers=auth)
    assert r.status_code == 200
    assert r.json()["output"]["task_status"] == "UNKNOWN"
    r = http.get("/api/v1/files/nope", headers=auth)
    assert (r.status_code, r.json()["message"]) == (400, "File not found.")
    r = http.post(
        "/api/v1/fine-tunes",
        headers=auth,
        json={
            "model": "wan2.2-i2v-flash",
            "training_file_ids": [],
            "training_type": "efficient_sft",
        },
    )
    assert (r.status_code, r.json()["message"]) == (400, "Missing training files")


def test_create_rejects_what_the_service_rejects(tmp_path: Path) -> None:
    client, _ = in_process(tmp_path / "state")
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    cases = [
        (
            dict(model="wan2.2-i2v-flash", hyper_parameters={"max_steps": 800}),
            "Unsupported hyper_parameters for wan2.2-i2v-flash: max_steps",
        ),
        (
            dict(model="wan2.2-i2v-flash", hyper_parameters={"n_epochs": "many"}),
            "Invalid hyper_parameters.n_epochs: 'many' is not of type 'integer'",
        ),
        (
            dict(model="wan2.2-i2v-flash", hyper_parameters={"max_pixels": 999999}),
            "Invalid hyper_parameters.max_pixels",
        ),
        (
            dict(model="wan2.6-i2v", hyper_parameters={}),
            "The model wan2.6-i2v does not support fine-tuning in cn-beijing",
        ),
        (
            dict(model="wan2.2-i2v-flash", hyper_parameters={}, training_type="full_sft"),
            "does not support training_type: full_sft",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(PermanentRemoteError) as err:
            client.create_job(training_file_ids=[up.file_id], **kwargs)  # type: ignore[arg-type]
        assert err.value.status == 400
        assert err.value.code == "InvalidParameter"
        assert message in str(err.value)


def _rezip(
    src: Path,
    dst: Path,
    drop: str | None = None,
    lines: int | None = None,
    jsonl: bytes | None = None,
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name == drop:
                continue
            data = zin.read(name)
            if name == "data.jsonl" and lines is not None:
                data = b"".join(data.splitlines(keepends=True)[:lines])
            if name == "data.jsonl" and jsonl is not None:
                data = jsonl
            zout.writestr(name, data)
    return dst


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"drop": "data.jsonl"}, "data.jsonl not found at the top of the zip"),
        ({"drop": "s02.mp4"}, "data.jsonl line 2: video_path 's02.mp4' is not in the zip"),
        ({"lines": 3}, "3 samples; at least 5 are required"),
        ({"jsonl": b'[{"prompt": "x"}]'}, "must be JSON Lines"),
    ],
    ids=["no-data-jsonl", "missing-file", "too-few", "json-array"],
)
def test_bad_zip_fails_the_job_like_the_service(
    tmp_path: Path, mutation: dict, reason: str
) -> None:
    client, clock = in_process(tmp_path / "state")
    bad = _rezip(built_zip(tmp_path / "ds"), tmp_path / "bad.zip", **mutation)
    up = client.upload_file(bad, api="native")
    job = client.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP)
    assert job.status == "PENDING"  # accepted at create, like the real service
    clock.advance(61)
    failed = client.get_job(job.job_id)
    assert failed.status == "FAILED"
    assert failed.message is not None
    assert reason in failed.message
    assert any(reason in line for line in client.job_logs(job.job_id).logs)


def test_duplicate_deployment_is_409(tmp_path: Path) -> None:
    client, clock = in_process(tmp_path / "state")
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    job = client.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP)
    with pytest.raises(PermanentRemoteError) as early:
        client.create_deployment(str(job.finetuned_output))
    assert early.value.status == 404  # not trained yet
    clock.advance(60 + 800 * 6)
    client.create_deployment(str(job.finetuned_output))
    with pytest.raises(PermanentRemoteError) as dup:
        client.create_deployment(str(job.finetuned_output))
    assert (dup.value.status, dup.value.code) == (409, "Conflict")
    assert "please specify a suffix" in str(dup.value)
    assert client.create_deployment(str(job.finetuned_output), suffix="b").deployed_model.endswith(
        "-b"
    )


def test_rate_limits_are_retried_honouring_retry_after(tmp_path: Path) -> None:
    slept: list[float] = []
    app = create_app(tmp_path / "s", load_catalog(CONF), faults=Faults(rate_429=0.5, seed=3))
    client = Client(
        BEIJING, "k", transport=InProcessTransport(app), sleep=slept.append, max_retries=20
    )
    for _ in range(10):
        assert client.list_jobs().total == 0
    assert client.retries > 0
    assert len(slept) == client.retries
    assert min(slept) >= 1.0  # Retry-After: 1


def test_server_errors_retried_for_reads_never_for_creates(tmp_path: Path) -> None:
    app = create_app(tmp_path / "s", load_catalog(CONF), faults=Faults(rate_500=1.0))
    client = Client(
        BEIJING, "k", transport=InProcessTransport(app), sleep=lambda s: None, max_retries=3
    )
    with pytest.raises(TemporaryRemoteError) as read:
        client.list_jobs()
    assert client.retries == 3
    assert read.value.status == 500
    before = client.retries
    with pytest.raises(TemporaryRemoteError) as create:
        client.create_job("wan2.2-i2v-flash", ["f"], hyper_parameters={})
    assert create.value.ambiguous
    assert client.retries == before  # not retried


@pytest.mark.parametrize(("fault", "applied"), [("drop_before", False), ("drop_after", True)])
def test_dropped_connections_on_create_are_ambiguous(
    tmp_path: Path, fault: str, applied: bool
) -> None:
    good, _ = in_process(tmp_path / "state")
    up = good.upload_file(built_zip(tmp_path / "ds"), api="native")
    faults = Faults(**{fault: 1.0})
    flaky, _ = in_process(tmp_path / "state", faults=faults)
    with pytest.raises(TemporaryRemoteError) as err:
        flaky.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP)
    assert err.value.ambiguous
    assert flaky.retries == 0
    assert (good.list_jobs().total == 1) is applied


def test_dropped_connections_on_reads_are_retried(tmp_path: Path) -> None:
    flaky, _ = in_process(tmp_path / "state", faults=Faults(drop_after=0.5, seed=1))
    for _ in range(5):
        assert flaky.list_deployments().total == 0
    assert flaky.retries > 0


def test_job_fails_at_step_and_deployment_fails_on_demand(tmp_path: Path) -> None:
    client, clock = in_process(tmp_path / "state", faults=Faults(fail_job_at_step=100))
    up = client.upload_file(built_zip(tmp_path / "ds"), api="native")
    job = client.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP)
    clock.advance(60 + 99 * 6)
    assert client.get_job(job.job_id).status == "RUNNING"
    clock.advance(6)
    failed = client.get_job(job.job_id)
    assert (failed.status, failed.code) == ("FAILED", "InternalError.Algo")
    assert "step 100" in str(failed.message)
    assert failed.usage == 100 * 4 * 256 * 5  # billed for the steps it ran
    deploys, clock2 = in_process(tmp_path / "s2", faults=Faults(fail_deploy=True))
    up2 = deploys.upload_file(built_zip(tmp_path / "ds2"), api="native")
    job2 = deploys.create_job("wan2.2-i2v-flash", [up2.file_id], hyper_parameters=HP)
    clock2.advance(60 + 800 * 6)
    dep = deploys.create_deployment(str(job2.finetuned_output))
    clock2.advance(301)
    assert deploys.get_deployment(dep.deployed_model).status == "FAILED"


def test_faults_are_deterministic_under_a_seed() -> None:
    a = Faults.parse("429=0.3,500=0.2,drop_before=0.1,seed=42")
    b = Faults.parse("429=0.3,500=0.2,drop_before=0.1,seed=42")
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]
    with pytest.raises(ValueError, match="unknown emulator fault 'teapot'"):
        Faults.parse("teapot=1")


def test_state_survives_a_server_restart(tmp_path: Path) -> None:
    train = built_zip(tmp_path / "ds")
    with served(tmp_path / "state", time_scale=1.0) as url:
        client = Client(url, "k")
        up = client.upload_file(train, api="native")
        job = client.create_job("wan2.2-i2v-flash", [up.file_id], hyper_parameters=HP)
        before = client.get_job(job.job_id)
        client.close()
    with served(tmp_path / "state", time_scale=1e6) as url:
        client = Client(url, "k")
        after = client.get_job(job.job_id)
        assert after.create_time == before.create_time
        assert after.status in ("RUNNING", "SUCCEEDED")  # simulated time went on, faster now
        assert up.file_id in [f.file_id for f in client.list_files(api="native")]
        client.close()


def test_the_key_is_never_in_errors_or_reprs(tmp_path: Path) -> None:
    key = "sk-" + "0123456789abcdef" * 2  # a fake key, built so it is never a literal
    app = create_app(tmp_path / "s", load_catalog(CONF))
    client = Client(BEIJING, key, transport=InProcessTransport(app))
    with pytest.raises(PermanentRemoteError) as err:
        client.get_job("ft-nope")
    assert key not in str(err.value) + repr(err.value) + repr(client) + repr(client._http.auth)
    unreachable = Client("http://127.0.0.1:9", key, max_retries=1, sleep=lambda s: None)
    with pytest.raises(TemporaryRemoteError) as down:
        unreachable.list_jobs()
    assert key not in str(down.value) + repr(down.value)
    assert json.dumps(str(down.value))


def test_a_throttled_upload_is_sent_again_from_the_start(tmp_path: Path) -> None:
    train = built_zip(tmp_path / "ds")
    app = create_app(
        tmp_path / "s", load_catalog(CONF), faults=Faults(rate_429=0.6, seed=3)
    )  # 429, 429, 429, then through
    client = Client(
        BEIJING, "k", transport=InProcessTransport(app), sleep=lambda s: None, max_retries=30
    )
    seen: list[tuple[int, int]] = []
    up = client.upload_file(train, api="native", progress=lambda d, t: seen.append((d, t)))
    assert client.retries > 0
    assert seen[-1] == (train.stat().st_size, train.stat().st_size)
    assert max(d for d, _ in seen) == train.stat().st_size  # never counted past the file
    good, _ = in_process(tmp_path / "s")
    [only] = good.list_files(api="native")
    assert only.file_id == up.file_id
    assert only.size == train.stat().st_size
