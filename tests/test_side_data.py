"""A frame's side data reads the same whichever PyAV decoded it.

PyAV up to 18.1.0 iterates `frame.side_data` as a list of SideData; 18.1.1 iterates it as the
mapping it is, yielding the side-data types. Every clip x264 wrote carries side data on its
first frame (its SEI_UNREGISTERED version string), so code that iterated crashed the probe of
every such clip on 18.1.1. Both shapes are reproduced here around the real side data of the
installed PyAV, and a build under each must ship the same bytes."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import av
import pytest
from av.sidedata.sidedata import Type

from tests.conftest import Run
from tests.helpers import write_effect
from tests.test_fidelity import clip, intended
from wanbuild.media import display
from wanbuild.media.probe import probe_path
from wanbuild.spec.media import MediaProblem


class SideDataShape(Mapping[Any, Any]):
    """The real side data of a frame, iterated as one PyAV release or the other does."""

    def __init__(self, real: Any, iterates: str) -> None:
        self._entries = []
        while True:
            try:
                self._entries.append(real[len(self._entries)])
            except IndexError:
                break
        self._by_type = {e.type: e for e in self._entries}
        self.iterates = iterates  # "values" (PyAV <= 18.1.0) or "keys" (18.1.1)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._entries if self.iterates == "values" else self._by_type)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return self._entries[key]
        return self._by_type[Type[key] if isinstance(key, str) else key]


def first_side_data(path: Path) -> Any:
    with av.open(str(path)) as c:
        frame = next(c.decode(c.streams.video[0]))
        return SideDataShape(frame.side_data, "values"), frame.side_data


def test_the_two_shapes_are_the_two_releases_and_iterating_breaks_on_one(
    tmp_path: Path,
) -> None:
    path = clip(tmp_path / "c.mp4", (64, 48), 4)
    values, real = first_side_data(path)
    assert len(values) >= 1  # x264's version string: every x264 clip carries side data
    first = next(iter(real))
    # the installed PyAV is one of the two shapes
    assert isinstance(first, Type) or isinstance(first.type, Type)
    keys = SideDataShape(real, "keys")
    assert all(isinstance(k, Type) for k in keys)
    with pytest.raises(AttributeError):  # what the probe did before: read .type while iterating
        [s.type for s in keys]
    assert [s.type for s in values] == list(keys)


@pytest.mark.parametrize("iterates", ["values", "keys"])
def test_the_display_matrix_is_found_by_its_type_under_either_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, iterates: str
) -> None:
    real_lookup = display.display_matrix
    monkeypatch.setattr(
        display, "display_matrix", lambda side: real_lookup(SideDataShape(side, iterates))
    )
    upright = probe_path(clip(tmp_path / "u.mp4", (64, 48), 4), "video")
    turned = probe_path(clip(tmp_path / "t.mp4", (48, 64), 4, turn=90), "video")
    assert not isinstance(upright, MediaProblem)
    assert not isinstance(turned, MediaProblem)
    assert (upright.width, upright.height) == (64, 48)
    assert (turned.width, turned.height) == (48, 64)  # stored 64x48, shown portrait


def _build(root: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    d = write_effect(root, "fx")  # six samples; the first two clips replaced
    clip(d / "media/s01.mp4", (720, 1280), 8, turn=90)  # x264 side data and a display matrix
    intended(720, 1280).save(d / "media/s01.jpg", quality=95)
    clip(d / "media/s02.mp4", (640, 360), 8)  # x264 side data, no matrix
    intended(640, 360).save(d / "media/s02.jpg", quality=95)
    monkeypatch.chdir(root)
    result = run("build", str(d))
    assert result.code == 0, result.out + result.err
    assert "media/s01.mp4: display matrix applied (turned 90°)" in result.out
    with zipfile.ZipFile(root / "build/fx/train.zip") as z:
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}


def test_a_build_under_either_shape_ships_the_same_bytes(
    tmp_path: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lookup = display.display_matrix
    built = {}
    for iterates in ("values", "keys"):
        with monkeypatch.context() as m:
            m.setattr(
                display,
                "display_matrix",
                lambda side, how=iterates: real_lookup(SideDataShape(side, how)),
            )
            built[iterates] = _build(tmp_path / iterates, run, monkeypatch)
    assert built["values"] == built["keys"]
    assert {"s01.mp4", "s02.mp4"} <= set(built["keys"])


def test_a_matrix_that_is_not_a_right_angle_is_refused_with_its_angle(tmp_path: Path) -> None:
    src = tmp_path / "tilted.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=16)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(45)
        for i in range(2):
            frame = av.VideoFrame.from_image(intended(64, 48)).reformat(format="yuv420p")
            frame.pts = i
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    found = probe_path(src, "video")
    assert isinstance(found, MediaProblem)
    assert "turns the picture by 45° (not a right angle)" in found.detail, found
