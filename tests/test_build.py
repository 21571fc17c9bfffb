"""`wanbuild build`: layout per kind, determinism, fitting, caches. Real media, real zips."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from tests.conftest import Run
from tests.helpers import edit_samples
from wanbuild.core.layout import jsonl_schema
from wanbuild.media.probe import probe_media_facts
from wanbuild.media.synth import make_image, make_video


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(root: Path, name: str = "fx") -> dict:
    return json.loads((root / "build" / name / "manifest.json").read_text())


def lines(zip_path: Path) -> list[dict]:
    with zipfile.ZipFile(zip_path) as zf:
        return [json.loads(line) for line in zf.read("data.jsonl").decode().splitlines()]


LAYOUT = {
    "i2v": ({"s01.jpg", "s01.mp4"}, {"v01.jpg"}),
    "kf2v": (
        {"image/s01_first.jpg", "image/s01_last.jpg", "video/s01.mp4"},
        {"image/v01_first.jpg", "image/v01_last.jpg"},
    ),
    "t2i": ({"s01.png"}, set()),
    "i2i": ({"s01_in.jpg", "s01_out.jpg"}, {"v01_in.jpg"}),
}


@pytest.mark.parametrize("kind", ["i2v", "kf2v", "t2i", "i2i"])
def test_zip_layout_and_data_jsonl_per_kind(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path, kind: str
) -> None:
    d = effect_factory(kind=kind, n_validation=2)
    result = run("build", str(d))
    assert result.code == 0, result.out
    for split, zip_name, expected in (
        ("train", "train.zip", LAYOUT[kind][0]),
        ("validation", "valid.zip", LAYOUT[kind][1]),
    ):
        path = tmp_path / "build/fx" / zip_name
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            assert zf.testzip() is None
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert "data.jsonl" in names
        assert expected <= names
        if kind in ("t2i", "i2i"):
            assert not any("/" in n for n in names)  # flat, no sub-directories
        if split == "validation":
            assert not any(n.endswith(".mp4") or "_out" in n for n in names)
        schema = jsonl_schema(kind, split)
        for line in lines(path):
            jsonschema.validate(line, schema)
            for key, value in line.items():
                if key != "prompt":
                    assert value.removeprefix("./") in names, value
        assert len(lines(path)) == (6 if split == "train" else 2)
    doc = manifest(tmp_path)
    assert set(doc["zips"]) == {"train", "validation"}
    assert doc["zips"]["train"]["sha256"] == sha(tmp_path / "build/fx/train.zip")
    entry = next(e for e in doc["zips"]["train"]["entries"] if e["name"] != "data.jsonl")
    assert entry["source"].startswith("media/")
    assert (
        entry["sha256"]
        == hashlib.sha256(
            zipfile.ZipFile(tmp_path / "build/fx/train.zip").read(entry["name"])
        ).hexdigest()
    )


def test_data_jsonl_paths_follow_each_guide(
    effect_factory: Callable[..., Path], tmp_path: Path, run: Callable[..., Run]
) -> None:
    d = effect_factory(kind="i2i")
    assert run("build", str(d)).code == 0
    first = lines(tmp_path / "build/fx/train.zip")[0]
    assert first == {
        "prompt": first["prompt"],
        "input_img": "./s01_in.jpg",
        "img_path": "./s01_out.jpg",
    }
    assert first["prompt"].startswith("zq7x9k, ")


def test_auto_split_builds_no_validation_zip(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("build", str(d)).code == 0
    assert not (tmp_path / "build/fx/valid.zip").exists()
    assert set(manifest(tmp_path)["zips"]) == {"train"}


def test_byte_identical_whatever_mtimes_and_permissions(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory(n_validation=1)
    assert run("build", str(d)).code == 0
    first = (sha(tmp_path / "build/fx/train.zip"), sha(tmp_path / "build/fx/valid.zip"))
    fp = manifest(tmp_path)["fingerprint"]
    for media in (d / "media").iterdir():
        os.utime(media, (1_700_000_000, 1_700_000_000))
        media.chmod(0o600)
    (tmp_path / "build").rename(tmp_path / "build-old")
    assert run("build", str(d)).code == 0
    assert (sha(tmp_path / "build/fx/train.zip"), sha(tmp_path / "build/fx/valid.zip")) == first
    assert manifest(tmp_path)["fingerprint"] == fp
    # and in a fresh process with another umask and no caches at all
    (tmp_path / "build").rename(tmp_path / "build-2")
    env = {**os.environ, "WANBUILD_HOME": str(tmp_path / "other-home")}
    code = "import os, sys; os.umask(0o077); from wanbuild.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run(
        [sys.executable, "-c", code, "build", str(d)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert sha(tmp_path / "build/fx/train.zip") == first[0]


def test_caption_edit_changes_only_that_fingerprint(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    a = effect_factory("a")
    b = effect_factory("b")
    assert run("build", str(a), str(b)).code == 0
    before = {n: manifest(tmp_path, n)["fingerprint"] for n in "ab"}
    edit_samples(a, "train", 2, background="standing on a windy pier.")
    result = run("build", str(a), str(b))
    assert "effects/a: built" in result.out
    assert "effects/b: up to date" in result.out
    after = {n: manifest(tmp_path, n)["fingerprint"] for n in "ab"}
    assert after["a"] != before["a"]
    assert after["b"] == before["b"]


def test_hash_cache_trusts_stat_and_rehashes_on_mismatch(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("build", str(d)).code == 0
    fp = manifest(tmp_path)["fingerprint"]
    image = d / "media/s01.jpg"
    st = image.stat()
    data = bytearray(image.read_bytes())
    data[-3] ^= 0xFF  # same size, same inode, different bytes
    with image.open("r+b") as f:
        f.write(bytes(data))
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    # stat unchanged: the cached hash is used, the file is not read again (as DVC does)
    assert "up to date" in run("build", str(d)).out
    assert manifest(tmp_path)["fingerprint"] == fp
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert "built" in run("build", str(d)).out
    assert manifest(tmp_path)["fingerprint"] != fp


def test_fitted_media_are_within_limits_and_reported(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    make_video(d / "media/女人 视频.mp4", 1, (1920, 1080), seconds=8.0, fps=24)
    edit_samples(d, "train", 0, video="media/女人 视频.mp4")
    make_video(d / "media/s02.mov", 2, (640, 480), seconds=2.0, fps=30)
    edit_samples(d, "train", 1, video="media/s02.mov")
    make_image(d / "media/s03.webp", 3, (300, 200))
    edit_samples(d, "train", 2, first_frame="media/s03.webp")
    make_image(d / "media/big.png", 4, (5000, 3000))
    edit_samples(d, "train", 3, first_frame="media/big.png")
    Image.new("RGB", (64, 48), "blue").save(d / "media/s05.gif")
    edit_samples(d, "train", 4, first_frame="media/s05.gif")
    result = run("build", str(d))
    assert result.code == 0, result.out
    assert "fit effects/fx/media/女人 视频.mp4: 1920x1080 -> 512x288, 8.0 s -> 5 s" in result.out
    assert "fit effects/fx/media/s02.mov: 640x480 -> 512x384" in result.out
    assert "fit effects/fx/media/big.png: 5000x3000 -> 1024x614" in result.out
    assert "fit effects/fx/media/s05.gif: GIF -> PNG" in result.out
    assert "fit effects/fx/media/s03.webp" not in result.out  # a webp within limits is kept
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "build/fx/train.zip") as zf:
        zf.extractall(out)
        names = set(zf.namelist())
    assert {"s01.mp4", "s02.mp4", "s03.webp", "s04.png", "s05.png"} <= names
    assert all(n.isascii() for n in names)
    v = probe_media_facts(out / "s01.mp4", "video")
    assert (v.width, v.height, v.codec, v.format) == (512, 288, "h264", "mp4")
    assert v.duration_s is not None
    assert 4.9 <= v.duration_s <= 5.0
    assert v.fps == 24.0  # trimmed, never re-timed
    assert probe_media_facts(out / "s02.mp4", "video").width == 512
    assert probe_media_facts(out / "s04.png", "image").width == 1024
    entries = {e["name"]: e for e in manifest(tmp_path)["zips"]["train"]["entries"]}
    assert entries["s01.mp4"]["source"] == "media/女人 视频.mp4"
    assert entries["s01.mp4"]["fit"] == "1920x1080 -> 512x288, 8.0 s -> 5 s"


def test_rebuild_does_no_media_work(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = effect_factory()
    make_video(d / "media/s01.mp4", 1, (640, 480), seconds=1.0, fps=8)
    assert run("build", str(d)).code == 0
    first = sha(tmp_path / "build/fx/train.zip")
    (tmp_path / "build").rename(tmp_path / "old")  # the zips must be written again...

    def no_fitting(*args: object) -> None:
        raise AssertionError("media were fitted again")

    import wanbuild.dataset.builder

    monkeypatch.setattr(
        wanbuild.dataset.builder, "fit_file", no_fitting
    )  # ...but from the fitted cache
    result = run("build", str(d))
    assert result.code == 0, result.out
    assert "fit effects/fx/media/s01.mp4: 640x480 -> 512x384" in result.out  # still said
    assert sha(tmp_path / "build/fx/train.zip") == first


def test_strict_refuses_and_writes_nothing(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    make_video(d / "media/s01.mp4", 1, (128, 96), seconds=7.0, fps=8)
    result = run("build", "--strict", str(d))
    assert result.code == 1
    assert "7.0 s -> 5 s" in result.out
    assert "not built" in result.out
    assert not (tmp_path / "build").exists()


def test_lint_errors_build_nothing(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory(n_train=3)
    result = run("build", str(d))
    assert result.code == 1
    assert "3 training samples" in result.out
    assert not (tmp_path / "build").exists()


def test_missing_zip_is_rebuilt(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    assert run("build", str(d)).code == 0
    digest = sha(tmp_path / "build/fx/train.zip")
    (tmp_path / "build/fx/train.zip").write_bytes(b"broken")
    assert "effects/fx: built" in run("build", str(d)).out
    assert sha(tmp_path / "build/fx/train.zip") == digest


def test_outputs_land_in_the_project_whatever_the_working_directory(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = effect_factory()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # marks the project root
    monkeypatch.chdir(tmp_path / "effects")
    assert run("build", "fx").code == 0
    assert (tmp_path / "build/fx/train.zip").is_file()
    assert (tmp_path / ".wanbuild/cache/hashes.sqlite").is_file()
    assert not (tmp_path / "effects/build").exists()
    assert run("apply", "fx").code == 0
    assert (tmp_path / ".wanbuild/emulator/state.sqlite").is_file()
    assert not (tmp_path / "effects/.wanbuild").exists()
    assert d.is_dir()


def test_a_build_of_unchanged_effects_reads_nothing_and_an_edit_rebuilds_only_that_one(
    effect_factory: Callable[..., Path], run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import edit_samples
    from wanbuild.config import load as config_load
    from wanbuild.dataset import preflight

    a, b = effect_factory("a"), effect_factory("b")
    assert run("build").code == 0

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged effect was composed or probed again")

    with monkeypatch.context() as m:
        m.setattr(config_load, "compose", forbidden)
        m.setattr(preflight, "probe_media", forbidden)
        again = run("build")
    assert again.code == 0, again.out
    assert again.out.count("up to date (unchanged since the last build)") == 2
    edit_samples(a, "train", 0, background="standing on a windy pier.")
    edited = run("build")
    assert f"{a.name}: built" in edited.out.replace("effects/", "")
    assert "b: up to date (unchanged since the last build)" in edited.out.replace("effects/", "")
    assert b.is_dir()
