"""`wanbuild init` scaffolds, and the demo effects shipped in effects/ validate clean."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.helpers import read_samples, write_media
from wanbuild.demo import generate

REPO = Path(__file__).resolve().parent.parent
DEMOS = ["money_rain", "fashion_magazine", "character_portrait", "mech_armor"]


@pytest.mark.parametrize(
    ("model", "kind", "expected_kind", "count"),
    [
        ("wan2.2-i2v-flash", None, "i2v", 5),
        ("wan2.2-kf2v-flash", None, "kf2v", 5),
        ("wan2.7-image-pro", None, "t2i", 25),
        ("wan2.7-image-pro", "i2i", "i2i", 25),
        ("wan2.7-i2v", "kf2v", "kf2v", 5),
    ],
)
def test_init_validates_once_media_are_added(
    run: Callable[..., Run],
    tmp_path: Path,
    model: str,
    kind: str | None,
    expected_kind: str,
    count: int,
) -> None:
    argv = ["init", "effects/new", "--model", model] + (["--kind", kind] if kind else [])
    result = run(*argv)
    assert result.code == 0, result.err
    d = tmp_path / "effects" / "new"
    before = run("validate", str(d))
    assert before.code == 1
    assert "no such file" in before.out
    samples = read_samples(d)
    assert len(samples["train"]) == count
    for seed, entry in enumerate(samples["train"]):
        write_media(d, entry, seed)
    after = run("validate", str(d))
    assert after.code == 0, after.out
    assert f"ok: {expected_kind} on {model}" in after.out
    assert "placeholder" in after.out  # the captions still need writing: warnings, not errors
    text = (d / "effect.yaml").read_text()
    assert "# A rare token with no meaning" in text


def test_init_refuses_unknown_model_and_existing_dirs(
    run: Callable[..., Run], tmp_path: Path
) -> None:
    result = run("init", "effects/x", "--model", "wan9")
    assert result.code == 1
    assert "unknown model; known: wan2.1-t2v-1.3b" in result.err
    assert run("init", "effects/x", "--model", "wan2.6-i2v", "--region", "cn-beijing").code == 1
    assert run("init", "effects/x", "--model", "wan2.2-i2v-flash").code == 0
    assert "already exists" in run("init", "effects/x", "--model", "wan2.2-i2v-flash").err


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demos")
    for name in DEMOS:
        shutil.copytree(
            REPO / "effects" / name, root / "effects" / name, ignore=shutil.ignore_patterns("media")
        )
        generate(root / "effects" / name)
    return root


@pytest.mark.parametrize("name", ["money_rain", "fashion_magazine"])
def test_demo_media_are_deterministic(demo_copy: Path, tmp_path: Path, name: str) -> None:
    again = tmp_path / name
    shutil.copytree(REPO / "effects" / name, again, ignore=shutil.ignore_patterns("media"))
    generate(again)
    assert _digest(again / "media") == _digest(demo_copy / "effects" / name / "media")


def test_all_demos_validate_clean(
    demo_copy: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_copy)
    result = run("validate")
    assert result.code == 0, result.out
    assert result.lines("error:") == []
    assert result.lines("warning:") == []
    for name, kind in zip(DEMOS, ["i2v", "kf2v", "t2i", "i2i"], strict=True):
        assert f"effects/{name}/effect.yaml: ok: {kind} on" in result.out


def test_dvc_pipeline_names_every_demo() -> None:
    text = (REPO / "dvc.yaml").read_text()
    for name in DEMOS:
        assert f"- {name}" in text


# The demo effects' dataset zips as this version builds them. A change to probing or fitting
# must leave every file it fitted correctly before byte for byte the same: a zip that moves is
# a dataset fingerprint that moves, and every user's effect would retrain on upgrade.
PINNED_ZIPS = {
    "money_rain/train.zip": "a00cb83f7f066cb624b6ef4be085aeba3d3a232d08e76d89cd3b1278d5fff791",
    "money_rain/valid.zip": "0a84933de755f76371cd675c94a414de400253a5a81bfb3acc57135daf3a0d89",
    "fashion_magazine/train.zip": "f479c9829216ac2509198caf28faba4aaee6494e1e3326bdccf447b5ea12523f",
    "fashion_magazine/valid.zip": "1226946756534ded29f908832e8b303c708d276b8ec93a56e5d4cbec3f0088f4",
    "character_portrait/train.zip": "4f26867a8bc8b2de9ec7f6515251b82bde4ef2f11f0c7c08db5b5227a2e33be1",
    "character_portrait/valid.zip": "3ef736dfb07b78772e5fe2e3b6a0e7119f04d6e87a748bf9b9dbecbf650df78b",
    "mech_armor/train.zip": "f143c8b29ad1571d55ea0893028d0fd1ebc02a02ca29f3e2def124608c557d09",
    "mech_armor/valid.zip": "e3ab054fad886c2ac504729a4f8b1f5f90ab822a3ee600e94ad29b1aa36acff7",
}


def test_the_demo_zips_are_built_byte_for_byte_as_pinned(
    demo_copy: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_copy)
    result = run("build")
    assert result.code == 0, result.out + result.err
    built = {
        str(p.relative_to(demo_copy / "build")): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((demo_copy / "build").glob("*/*.zip"))
    }
    assert built == PINNED_ZIPS
