"""Choose the checkpoint by looking: the review page in a real browser, the contact sheet, pin.

money_rain's demo effect is applied on the embedded emulator, its previews kept, the page
opened by Debian's chromium (headless, every host unresolvable) and screenshotted; pin edits
a commented effect.yaml in place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from html import unescape as html_unescape
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import Run
from wanbuild.config.yaml_edit import set_deploy_checkpoint
from wanbuild.demo import generate

REPO = Path(__file__).resolve().parent.parent

# The review page, opened in a real browser (Debian's chromium, headless), and pin.


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium")
        pytest.skip("chromium is not installed (`apt-get install chromium`)")
    return found


def browse(page: Path, *args: str) -> str:
    proc = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing may leave the file system
            "--virtual-time-budget=15000",
            "--window-size=1600,1000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def reviewed(tmp_path: Path, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> Path:
    """money_rain's demo effect applied on the emulator at a pace its previews can be kept at
    (24 h of emulated time in ~10 s), then reviewed."""
    shutil.copytree(
        REPO / "effects" / "money_rain",
        tmp_path / "effects" / "money_rain",
        ignore=shutil.ignore_patterns("media"),
    )
    generate(tmp_path / "effects" / "money_rain")
    monkeypatch.setenv("WANBUILD_EMULATOR_TIME_SCALE", "8000")
    applied = run("apply", "--wait", "--poll", "0.05", "effects/money_rain")
    assert applied.code == 0, applied.out + applied.err
    assert "kept 16 preview(s) of job" in applied.out
    made = run("review", "effects/money_rain")
    assert made.code == 0, made.out + made.err
    page = tmp_path / ".wanbuild/review/money_rain/index.html"
    assert f"review page {page}" in made.out
    return page


def test_the_review_page_loads_every_preview_offline_in_a_real_browser(reviewed: Path) -> None:
    html = reviewed.read_text()
    assert "http://" not in html.split("<script>")[0].replace("lang=en", "")
    assert "https://" not in html
    assert html.count("<video ") == 16  # 8 checkpoints x 2 validation samples
    dom = browse(reviewed, "--dump-dom")
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    assert 'data-loaded="18"' in body.group(0), body.group(
        0
    )  # 16 videos readyState >= 2, 2 first frames
    resources = re.search(r'data-resources="([^"]*)"', body.group(0))
    assert resources is not None
    for url in json.loads(html_unescape(resources.group(1))):
        assert url.startswith("file://"), url
    assert 'class="mark live"' in dom
    assert "epoch 400 · step 2000" in dom
    shot = REPO / "build" / "review-screenshot.png"  # kept by CI as an artifact
    shot.parent.mkdir(exist_ok=True)
    browse(reviewed, f"--screenshot={shot}")
    with Image.open(shot) as im:
        grey = im.convert("L")
        low, high = grey.getextrema()
        small = im.convert("RGB").resize((64, 40))
        colours = len({small.getpixel((x, y)) for x in range(64) for y in range(40)})
    assert high - low > 100  # not blank
    assert colours > 50


def test_the_contact_sheet_shows_every_cell(reviewed: Path, run: Callable[..., Run]) -> None:
    result = run("review", "effects/money_rain", "--format", "png")
    assert result.code == 0, result.out
    sheet = reviewed.parent / "review.png"
    with Image.open(sheet) as im:
        assert im.width > 8 * 3 * 100
        assert im.height > 2 * 100


COMMENTED = """\
# Money rain, the demo effect.
defaults:
  - config
  - override model: wan2.2-i2v-flash   # the flash model trains fastest
  - override region: cn-beijing
  - _self_

trigger: s86b5p
effect: "Then the {trigger} money rain effect begins."  # kept verbatim

deploy:
  capacity: 1
  # null deploys the final model
  checkpoint: null   # chosen by eye, see `wanbuild review`
"""


def test_pin_writes_one_value_keeping_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "effect.yaml"
    path.write_text(COMMENTED)
    set_deploy_checkpoint(path, "checkpoint-150")
    assert path.read_text() == COMMENTED.replace(
        "checkpoint: null   #", "checkpoint: checkpoint-150   #"
    )
    set_deploy_checkpoint(path, None)
    assert path.read_text() == COMMENTED
    bare = tmp_path / "bare.yaml"
    bare.write_text("trigger: s86b5p\ndeploy:\n  capacity: 1\n")
    set_deploy_checkpoint(bare, "checkpoint-50")
    assert yaml.safe_load(bare.read_text())["deploy"] == {
        "checkpoint": "checkpoint-50",
        "capacity": 1,
    }


def test_pin_checks_the_checkpoint_and_plans_export_and_deploy_only(
    reviewed: Path, run: Callable[..., Run], tmp_path: Path
) -> None:
    effect = tmp_path / "effects/money_rain/effect.yaml"
    before = effect.read_text()
    missing = run("pin", "effects/money_rain", "checkpoint-123")
    assert missing.code == 1
    assert "kept no such checkpoint; kept: checkpoint-400" in missing.err
    assert effect.read_text() == before
    pinned = run("pin", "effects/money_rain", "checkpoint-150")
    assert pinned.code == 0, pinned.out + pinned.err
    assert "deploy.checkpoint: checkpoint-150" in pinned.out
    assert "export" in pinned.out
    assert "+ deploy" in pinned.out
    assert "+ train" not in pinned.out
    assert "+ upload" not in pinned.out
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), effect.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1
    assert "checkpoint-150" in changed[0][1]
    back = run("pin", "effects/money_rain", "--final")
    assert back.code == 0
    assert effect.read_text() == before


def test_golden_renders_with_the_live_deployment_once_as_the_first_column(
    reviewed: Path, run: Callable[..., Run]
) -> None:
    golden = run("review", "effects/money_rain", "--golden", "--poll", "0.01")
    assert golden.code == 0, golden.out + golden.err
    assert "--golden renders 2 validation sample(s) with wb-money-rain-" in golden.out
    assert "2 video generation(s), billed by Model Studio per second of video" in golden.out
    html = reviewed.read_text()
    assert html.count("<video ") == 18  # the live column, then 8 checkpoints x 2
    first_column = re.search(r'<th scope="col" data-col="([^"]+)"', html)
    assert first_column is not None
    assert first_column.group(1) == "live"
    again = run("review", "effects/money_rain", "--golden", "--poll", "0.01")
    assert "--golden renders" not in again.out  # made once per deployment
