"""From a folder of clips to an effect: `init --from`, frames cut from the clip, drafted captions.

Real clips made with PyAV (odd names, spaces, upper-case extensions, a portrait phone clip with
a display matrix), a real git + DVC repository, the emulator served over HTTP for `caption`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import Run
from tests.emulator_helpers import served
from tests.helpers import edit_samples
from tests.test_fidelity import clip, difference, intended
from wanbuild.core.captions import caption_digest
from wanbuild.media.synth import make_video


def sh(cwd: Path, *argv: str) -> str:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git + DVC repository with the project's conf, as a user's would be."""
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  build:\n    foreach: []\n    do:\n      cmd: wanbuild build effects/${item}\n",
        encoding="utf-8",
    )
    return tmp_path


def folder(root: Path) -> Path:
    clips = root / "shoot"
    clips.mkdir()
    clip(clips / "Spin Take 1.MOV", (128, 72), 16, fmt="mov")
    clip(clips / "spin take 1.mp4", (128, 72), 12)  # the same id once made: made unique
    clip(clips / "Señora giro.MP4", (72, 128), 16, turn=90)  # portrait, as phones store it
    clip(clips / "b-roll_03.mp4", (128, 72), 8)
    clip(clips / "d.mp4", (128, 72), 10)
    (clips / "notes.txt").write_text("shot list\n", encoding="utf-8")
    Image.new("RGB", (64, 64)).save(clips / "poster.jpg")
    return clips


def test_init_from_a_folder_makes_one_sample_per_clip_and_tracks_the_media(
    project: Path, run: Callable[..., Run]
) -> None:
    clips = folder(project)
    dry = run(
        "init", "effects/spin", "--model", "wan2.2-i2v-flash", "--from", str(clips), "--dry-run"
    )
    assert dry.code == 0, dry.err
    assert not (project / "effects/spin").exists()  # a dry run writes nothing
    made = run("init", "effects/spin", "--model", "wan2.2-i2v-flash", "--from", str(clips))
    assert made.code == 0, made.err
    out = made.out
    assert "+ spin_take_1: media/spin_take_1.mov (renamed from 'Spin Take 1.MOV')" in out
    assert "+ spin_take_1_2: media/spin_take_1_2.mp4 (renamed from 'spin take 1.mp4')" in out
    assert "+ senora_giro: media/senora_giro.mp4 (renamed from 'Señora giro.MP4')" in out
    assert "+ b-roll_03: media/b-roll_03.mp4\n" in out
    assert "- notes.txt: skipped, not a media file it can read" in out
    assert (
        "- poster.jpg: skipped, this is image data (JPEG), not video; i2v samples are made from videos"
        in out
    )
    assert "5 file(s) copied" in out
    samples = yaml.safe_load((project / "effects/spin/samples.yaml").read_text())["train"]
    assert [s["id"] for s in samples] == [
        "b-roll_03",
        "d",
        "senora_giro",
        "spin_take_1",
        "spin_take_1_2",
    ]
    assert all("first_frame" not in s for s in samples)  # cut from each clip by build
    assert (clips / "Spin Take 1.MOV").exists()  # copied, not moved
    assert "effects/spin/media tracked by DVC (effects/spin/media.dvc)" in out
    assert (project / "effects/spin/media.dvc").is_file()
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "effects/spin/media.dvc"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "up to date" in status.stdout.lower() or status.stdout.strip() == "", status.stdout
    assert "- spin" in (project / "dvc.yaml").read_text()
    # the effect validates but for its placeholder captions
    checked = run("validate", "effects/spin")
    errors = checked.lines("error:")
    assert errors == [], errors


def test_init_from_again_adds_the_new_clip_only_and_keeps_the_file_as_written(
    project: Path, run: Callable[..., Run]
) -> None:
    clips = folder(project)
    assert (
        run("init", "effects/spin", "--model", "wan2.2-i2v-flash", "--from", str(clips)).code == 0
    )
    samples = project / "effects/spin/samples.yaml"
    text = samples.read_text().replace("train:", "# reviewed by Ana\ntrain:")
    samples.write_text(text)
    clip(clips / "Late Addition.mov", (128, 72), 8, fmt="mov")
    again = run("init", "effects/spin", "--from", str(clips), "--move")
    assert again.code == 0, again.err
    assert "1 new sample(s)" in again.out
    assert "+ late_addition: media/late_addition.mov" in again.out
    assert "- d.mp4: skipped, already in the effect as media/d.mp4" in again.out
    assert "1 file(s) moved" in again.out
    assert not (clips / "Late Addition.mov").exists()
    after = samples.read_text()
    entries = text.split("# Validation entries")[0]
    assert after.startswith(entries)  # nothing written before is rewritten
    assert "# reviewed by Ana" in after
    assert [s["id"] for s in yaml.safe_load(after)["train"]][-1] == "late_addition"


def test_a_derived_first_frame_is_the_clips_frame_0_as_a_player_shows_it(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    clip(d / "media/s01.mp4", (72, 128), 8, turn=90)  # a portrait phone clip
    edit_samples(d, "train", 0, first_frame=None)
    edit_samples(d, "train", 1, first_frame={"from": "video"})
    checked = run("validate", str(d))
    assert checked.code == 0, checked.out
    assert "does not look like the first frame" not in checked.out
    built = run("build", str(d))
    assert built.code == 0, built.out + built.err
    assert "first_frame cut from the clip (first frame, as a player shows it)" in built.out
    with zipfile.ZipFile(tmp_path / "build/fx/train.zip") as z:
        first = Image.open(BytesIO(z.read("s01.jpg"))).convert("RGB")
        assert "s02.jpg" in z.namelist()
    assert first.size == (72, 128)  # upright, at the clip's displayed size
    assert difference(first, intended(72, 128)) < 6  # JPEG tolerance
    again = run("build", str(d))
    assert "cut from the clip" not in again.out  # made once


def test_a_derived_kf2v_last_frame_is_the_last_frame_of_the_clip_as_trimmed(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx", "kf2v")
    make_video(d / "media/s01.mp4", 7, (128, 96), seconds=6.0, fps=8)  # trimmed to 5 s
    edit_samples(d, "train", 0, first_frame=None, last_frame=None)
    checked = run("validate", str(d))
    assert checked.lines("error:") == [], checked.out  # trimming is fine: the frame follows it
    built = run("build", str(d))
    assert built.code == 0, built.out + built.err
    assert "last frame at the 5 s trim" in built.out
    with zipfile.ZipFile(tmp_path / "build/fx/train.zip") as z:
        last = Image.open(BytesIO(z.read("image/s01_last.png"))).convert("RGB")
        trained = z.read("video/s01.mp4")
    (tmp_path / "trained.mp4").write_bytes(trained)
    import av

    with av.open(str(tmp_path / "trained.mp4")) as c:
        frames = [f.to_image() for f in c.decode(c.streams.video[0])]
    assert len(frames) == 40  # 5 s at 8 fps
    assert difference(last, frames[-1]) < 4  # the trained clip's own last frame
    assert difference(last, frames[-9]) > difference(last, frames[-1])


def test_caption_fills_placeholders_only_keeps_comments_and_marks_drafts(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory("fx")
    edit_samples(
        d,
        "train",
        0,
        subject="<describe the subject of s01>",
        background="<describe the background of s01>",
    )
    edit_samples(d, "train", 1, background="<describe the background of s02>")
    samples = d / "samples.yaml"
    samples.write_text("# the shoot of 3 June\n" + samples.read_text())
    kept_subject = yaml.safe_load(samples.read_text())["train"][1]["subject"]
    with served(tmp_path / "cloud") as url:
        env = {**os.environ, "DASHSCOPE_API_KEY": "sk-test"}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "wanbuild",
                "caption",
                str(d),
                "--yes",
                "backend=dashscope",
                f"backend.base_url={url}",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "2 caption(s) to draft with qwen3-vl-plus: 2 request(s) of one picture each" in proc.stdout
    )
    text = samples.read_text()
    assert text.startswith("# the shoot of 3 June\n")
    doc = yaml.safe_load(text)["train"]
    s01, s02, s03 = doc[0], doc[1], doc[2]
    assert "describe" not in s01["subject"] + s01["background"]
    assert s01["subject"].startswith("A person in ")
    assert s02["subject"] == kept_subject  # a caption a person wrote is never replaced
    assert "describe" not in s02["background"]
    assert "draft" not in s03
    assert s01["draft"] == {
        "by": "qwen3-vl-plus",
        "sha256": caption_digest(s01["subject"], s01["background"]),
    }
    warned = run("validate", str(d))
    drafts = [line for line in warned.lines("warning:") if "not reviewed yet" in line]
    assert len(drafts) == 2
    assert (
        "train[0] (id s01).draft: caption drafted by qwen3-vl-plus and not reviewed yet"
        in drafts[0]
    )
    edit_samples(d, "train", 0, background="on a windy pier at dusk.")  # a person corrects it
    again = run("validate", str(d))
    assert len([line for line in again.lines("warning:") if "not reviewed yet" in line]) == 1


def test_caption_without_a_key_or_the_emulator_exits_1_naming_the_fix(
    effect_factory: Callable[..., Path], run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = effect_factory("fx")
    edit_samples(d, "train", 0, subject="<describe the subject of s01>")
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    result = run("caption", str(d), "--yes", "backend=dashscope")
    assert result.code == 1
    assert "needs an API key for cn-beijing: set DASHSCOPE_API_KEY" in result.err
    assert "describe the subject of s01" in (d / "samples.yaml").read_text()
