"""The MP4 muxer's version tag is rewritten to one constant, the file otherwise untouched: the
same frames decode, the container reads the new tag, whatever its length."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from tests.test_fidelity import clip
from wanbuild.media import mp4tag


def decoded(path: Path) -> tuple[str, str, int]:
    """(the encoder tag, a hash of every decoded frame, the frame count)."""
    h = hashlib.sha256()
    with av.open(str(path)) as c:
        tag = c.metadata.get("encoder", "")
        n = 0
        for frame in c.decode(c.streams.video[0]):
            h.update(frame.to_image().tobytes())
            n += 1
    return tag, h.hexdigest(), n


def test_ffmpeg_writes_its_own_version_and_it_is_replaced(tmp_path: Path) -> None:
    path = clip(tmp_path / "c.mp4", (64, 48), 6)  # written by PyAV directly, not by wanbuild
    tag, frames, n = decoded(path)
    assert tag.startswith("Lavf")
    assert n == 6
    assert mp4tag.pin_muxer_tag(path) is (tag.encode() != mp4tag.MUXER_TAG)
    assert decoded(path) == (mp4tag.MUXER_TAG.decode(), frames, 6)
    pinned = path.read_bytes()
    assert mp4tag.pin_muxer_tag(path) is False  # already held: not rewritten
    assert path.read_bytes() == pinned


@pytest.mark.parametrize("tag", [b"Lavf63.100.1000", b"Lavf6", b"Lavf62.12.103"])
def test_a_tag_of_another_length_keeps_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tag: bytes
) -> None:
    path = clip(tmp_path / "c.mp4", (64, 48), 6)
    written, frames, _ = decoded(path)
    size = path.stat().st_size
    monkeypatch.setattr(mp4tag, "MUXER_TAG", tag)
    mp4tag.pin_muxer_tag(path)
    assert decoded(path) == (tag.decode(), frames, 6)
    assert path.stat().st_size == size + len(tag) - len(written)


def test_a_file_without_the_tag_is_left_alone(tmp_path: Path) -> None:
    webm = clip(tmp_path / "c.webm", (64, 48), 4, fmt="webm", codec="libvpx-vp9")
    before = webm.read_bytes()
    assert mp4tag.pin_muxer_tag(webm) is False
    assert webm.read_bytes() == before
