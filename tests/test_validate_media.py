"""`wanbuild validate` against real media that break the documented limits."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Run
from tests.helpers import edit_samples
from wanbuild.media.synth import make_image, make_video


def errors(result: Run) -> list[str]:
    return result.lines("error:")


def test_clean_effect_passes(effect_factory: Callable[..., Path], run: Callable[..., Run]) -> None:
    d = effect_factory()
    result = run("validate", str(d))
    assert result.code == 0, result.out
    assert errors(result) == []
    assert "ok: i2v on wan2.2-i2v-flash in cn-beijing" in result.out


def warnings(result: Run) -> list[str]:
    return result.lines("warning:")


def test_oversize_image_is_fitted_or_refused_with_strict(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    make_image(d / "media/s01.jpg", 1, (1100, 900))
    result = run("validate", str(d))
    assert result.code == 0
    assert any(
        "train[0] (id s01).first_frame" in w
        and "build fits it to wan2.2-i2v-flash in cn-beijing: 1100x900 -> 1024x837" in w
        for w in warnings(result)
    )
    strict = run("validate", "--strict", str(d))
    assert strict.code == 1
    [line] = errors(strict)
    assert "samples.yaml: train[0] (id s01).first_frame" in line
    assert "outside the limits of wan2.2-i2v-flash in cn-beijing: 1100x900 -> 1024x837" in line
    # the same image is within the limits in Singapore (4096), given enough samples
    d2 = effect_factory("fx2", n_train=10)
    make_image(d2 / "media/s01.jpg", 1, (1100, 900))
    assert run("validate", "--strict", str(d2), "region=ap-southeast-1").code == 0


def test_oversize_video_resolution(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    make_video(d / "media/s02.mp4", 2, (640, 360), seconds=1.0, fps=8)
    assert any(
        "s02).video" in w and "640x360 -> 512x288" in w for w in warnings(run("validate", str(d)))
    )
    assert any(
        "s02).video" in e and "640x360 -> 512x288" in e
        for e in errors(run("validate", "--strict", str(d)))
    )


def test_video_too_long_for_wan22_but_not_wan25(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    make_video(d / "media/s03.mp4", 3, (128, 96), seconds=8.0, fps=8)
    result = run("validate", "--strict", str(d))
    assert result.code == 1
    assert any("s03).video" in e and "8.0 s -> 5 s" in e for e in errors(result))
    assert any("s03).video" in w and "8.0 s -> 5 s" in w for w in warnings(run("validate", str(d))))
    assert run("validate", "--strict", str(d), "model=wan2.5-i2v-preview").code == 0


def test_kf2v_clip_too_long_cannot_be_trimmed(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory(kind="kf2v")
    make_video(d / "media/s01.mp4", 1, (128, 96), seconds=6.0, fps=8)
    result = run("validate", str(d))
    assert result.code == 1
    assert any(
        "s01).video" in e and "would cut the frames its last_frame shows" in e
        for e in errors(result)
    )


def test_mov_is_accepted_webm_is_transcoded(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    make_video(d / "media/s01.mov", 1, (128, 96), seconds=1.0, fps=8)
    edit_samples(d, "train", 0, video="media/s01.mov")
    assert run("validate", "--strict", str(d)).code == 0
    make_video(d / "media/s02.webm", 2, (128, 96), seconds=1.0, fps=8, codec="libvpx-vp9")
    edit_samples(d, "train", 1, video="media/s02.webm")
    result = run("validate", "--strict", str(d))
    assert result.code == 1
    assert any("s02).video" in e and "webm -> H.264 MP4" in e for e in errors(result))


def test_unsupported_image_format(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    Image.new("RGB", (64, 64), "red").save(d / "media/s01.gif")
    edit_samples(d, "train", 0, first_frame="media/s01.gif")
    result = run("validate", "--strict", str(d))
    assert any("s01).first_frame" in e and "GIF -> PNG" in e for e in errors(result))
    # webp is one of the documented formats
    Image.new("RGB", (64, 64), "red").save(d / "media/s01.webp")
    edit_samples(d, "train", 0, first_frame="media/s01.webp")
    assert run("validate", "--strict", str(d)).code == 0


def test_image_file_too_large(effect_factory: Callable[..., Path], run: Callable[..., Run]) -> None:
    d = effect_factory()
    path = d / "media/s01.jpg"
    with path.open("ab") as f:  # JPEG readers ignore trailing bytes: still a real, valid image
        f.write(b"\0" * (11 * 1024 * 1024))
    result = run("validate", "--strict", str(d))
    assert any(
        "s01).first_frame" in e and "11.0 MB re-encoded as JPEG to fit 10 MB" in e
        for e in errors(result)
    )


@pytest.mark.parametrize(
    ("content", "key", "expected"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + os.urandom(300), "video", "corrupt, truncated"),
        (b"not an image at all", "first_frame", "corrupt, truncated"),
    ],
    ids=["corrupt-mp4", "garbage-jpg"],
)
def test_corrupt_media(
    effect_factory: Callable[..., Path],
    run: Callable[..., Run],
    content: bytes,
    key: str,
    expected: str,
) -> None:
    d = effect_factory()
    target = d / ("media/s01.mp4" if key == "video" else "media/s01.jpg")
    target.write_bytes(content)
    result = run("validate", str(d))
    assert result.code == 1
    assert any(f"s01).{key}" in e and expected in e for e in errors(result))


def test_truncated_mp4(effect_factory: Callable[..., Path], run: Callable[..., Run]) -> None:
    d = effect_factory()
    path = d / "media/s01.mp4"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    result = run("validate", str(d))
    assert any("s01).video" in e and "corrupt" in e for e in errors(result))


def test_wrong_media_type(effect_factory: Callable[..., Path], run: Callable[..., Run]) -> None:
    d = effect_factory()
    edit_samples(d, "train", 0, video="media/s01.jpg")
    edit_samples(d, "train", 1, first_frame="media/s02.mp4")
    result = run("validate", str(d))
    errs = errors(result)
    assert any("s01).video" in e and "this is image data" in e for e in errs)
    assert any("s02).first_frame" in e and "this is video data" in e for e in errs)


def test_paths_must_stay_inside_the_effect(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    d = effect_factory()
    outside = tmp_path / "outside.jpg"
    make_image(outside, 9, (64, 64))
    (d / "media/link.jpg").symlink_to(outside)
    edit_samples(d, "train", 0, first_frame="../outside.jpg")
    edit_samples(d, "train", 1, first_frame="media/link.jpg")
    edit_samples(d, "train", 2, first_frame=str(outside))
    edit_samples(d, "train", 3, first_frame="media/nope.jpg")
    errs = errors(run("validate", str(d)))
    assert any("s01).first_frame" in e and "'..'" in e for e in errs)
    assert any("s02).first_frame" in e and "symlink leading outside" in e for e in errs)
    assert any("s03).first_frame" in e and "absolute path" in e for e in errs)
    assert any("s04).first_frame" in e and "no such file" in e for e in errs)


def test_symlink_inside_the_effect_is_fine(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    (d / "media/alias.jpg").symlink_to(d / "media/s01.jpg")
    edit_samples(d, "train", 0, first_frame="media/alias.jpg")
    assert run("validate", str(d)).code == 0


def test_max_pixels_is_a_single_warning(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    for i in (1, 2, 3):
        make_video(d / f"media/s0{i}.mp4", i, (256, 192), seconds=1.0, fps=8)
    result = run("validate", str(d), "model=wan2.5-i2v-preview")
    assert result.code == 0
    [warning] = [w for w in result.lines("warning:") if "max_pixels" in w]
    assert "3 video(s) exceed max_pixels 36864 as built (largest 256x192)" in warning


def test_first_frame_must_be_the_clips_first_frame(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    clean = run("validate", str(d))
    assert not [w for w in warnings(clean) if "first frame" in w or "aspect" in w]
    Image.new("RGB", (128, 96), (250, 250, 240)).save(d / "media/s01.jpg")  # another picture
    make_image(d / "media/s02.jpg", 1, (96, 128))  # portrait picture for a landscape clip
    result = run("validate", str(d))
    assert result.code == 0
    assert any(
        "train[0] (id s01).first_frame" in w
        and "does not look like the first frame of media/s01.mp4" in w
        for w in warnings(result)
    )
    assert any(
        "train[1] (id s02).first_frame" in w and "a different aspect ratio" in w
        for w in warnings(result)
    )


def test_unchanged_media_are_not_opened_again(
    effect_factory: Callable[..., Path], run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    import wanbuild.dataset.preflight

    d = effect_factory()
    first = run("validate", str(d))
    assert first.code == 0
    opened: list[Path] = []
    real = wanbuild.dataset.preflight.probe_path

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        opened.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(wanbuild.dataset.preflight, "probe_path", counting)
    again = run("validate", str(d))
    assert again.out == first.out
    assert opened == []
    make_video(d / "media/s02.mp4", 2, (640, 360), seconds=1.0, fps=8)  # changed bytes
    run("validate", str(d))
    assert [p.name for p in opened] == ["s02.mp4"]
