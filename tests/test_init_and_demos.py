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
    assert "unknown model; known: wan2.2-i2v-flash" in result.err
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
