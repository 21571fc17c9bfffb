"""Tests build real effect directories (real JPEG/PNG via Pillow, real MP4 via PyAV) in temp
dirs and run wanbuild's own entry points; nothing of ours or of a library is mocked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import write_effect
from wanbuild.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own working directory with no DVC telemetry."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


@pytest.fixture
def effect_factory(tmp_path: Path) -> Callable[..., Path]:
    def make(*args: object, **kwargs: object) -> Path:
        return write_effect(tmp_path, *args, **kwargs)  # type: ignore[arg-type]

    return make


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(prefix)]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def invoke(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


PROFILES = ["typical", "documented-minimum"]


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator profile a test runs under: the docs' examples, or their least helpful
    reading. Every guarantee of apply is tested under both."""
    name = str(request.param)
    monkeypatch.setenv("WANBUILD_EMULATOR_PROFILE", name)
    return name
