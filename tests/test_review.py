"""`wanbuild diff`: the pure comparison of two revisions' effects, and the whole review flow on
a real git repository whose media live in a local-directory DVC remote: fresh clone, dvc pull,
diff, plan."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.conftest import Run
from tests.helpers import (
    edit_samples,
    read_samples,
    sample_entry,
    write_media,
    write_samples,
)
from tests.test_dvc_pipeline import dvc_project, sh
from wanbuild.core.actions import Impact
from wanbuild.core.review import EffectView, SampleView, diff, word_diff

V = EffectView(
    name="fx",
    model="wan2.2-i2v-flash",
    region="cn-beijing",
    kind="i2v",
    trigger="zq7x",
    template="Then the {trigger} rain begins.",
    hyper_parameters={"n_epochs": 400, "lora_rank": 32},
    aigc_config={"use_input_prompt": False, "prompt": "p"},
    checkpoint=None,
    samples={"s01": SampleView("s01", "train", "A man on a pier.", (("media/s01.mp4", "aa"),))},
    total_steps=800,
    steps_text="800 steps",
    cost="price not documented",
)


def test_each_kind_of_change_has_its_consequence() -> None:
    assert diff(V, V).impact is Impact.NONE
    assert diff(V, V).status == "unchanged"
    aigc = replace(V, aigc_config={"use_input_prompt": True, "prompt": "p"})
    assert diff(V, aigc).impact is Impact.REDEPLOY
    hp = replace(V, hyper_parameters={"n_epochs": 400, "lora_rank": 64})
    d = diff(V, hp)
    assert d.impact is Impact.RETRAIN
    assert [(c.key, c.before, c.after) for c in d.config] == [
        ("hyper_parameters.lora_rank", "32", "64")
    ]
    caption = replace(V, samples={"s01": replace(V.samples["s01"], prompt="A man on a ship.")})
    d = diff(V, caption)
    assert d.impact is Impact.FULL
    assert d.samples[0].caption == ("A man on a pier.", "A man on a ship.")
    media = replace(V, samples={"s01": replace(V.samples["s01"], media=(("media/s01.mp4", "bb"),))})
    assert diff(V, media).samples[0].media == ("media/s01.mp4",)
    unknown = replace(
        V, samples={"s01": replace(V.samples["s01"], media=(("media/s01.mp4", None),))}
    )
    assert diff(V, unknown).status == "unchanged"  # an unknown hash is not a change
    assert diff(None, V).impact is Impact.FULL
    assert diff(V, None).status == "removed"


def test_word_diff_names_the_words() -> None:
    assert word_diff("a man on a pier", "a man on a ship") == [
        ("=", "a man on a"),
        ("-", "pier"),
        ("+", "ship"),
    ]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A git + DVC project with one effect whose media are in a local-directory DVC remote."""
    root, remote = tmp_path / "origin", tmp_path / "dvc-remote"
    dvc_project(root, remote)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "fx")
    sh(root, "dvc", "push", "-q")
    return root, remote


def test_review_flow_from_a_fresh_clone(
    project: tuple[Path, Path],
    tmp_path: Path,
    run: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = project
    d = root / "effects" / "fx"
    sh(root, "git", "checkout", "-q", "-b", "pr")
    edit_samples(d, "train", 0, background="standing on a windy pier.")
    samples = read_samples(d)
    new = sample_entry("i2v", 7)
    write_media(d, new, seed=70)
    write_samples(d, [*samples["train"], new], samples["validation"])
    doc = yaml.safe_load((d / "effect.yaml").read_text())
    doc["hyper_parameters"] = {"lora_rank": 64}
    doc["deploy"] = {"aigc_config": {"use_input_prompt": True}}
    (d / "effect.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    sh(root, "dvc", "add", "-q", str(d / "media"))
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "fx: a new sample, a caption, lora_rank 64")
    sh(root, "dvc", "push", "-q")

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", "-b", "pr", str(root), str(clone))
    sh(clone, "git", "branch", "-q", "main", "origin/main")
    monkeypatch.chdir(clone)
    listed = run("diff", "main", "HEAD", "--format", "json")  # no media yet: git + DVC records
    assert listed.code == 2, listed.err
    sh(clone, "dvc", "pull", "-q")
    result = run("diff", "main", "--format", "json")  # the working tree, media at hand
    assert result.code == 2, result.err
    [effect] = json.loads(result.out)["effects"]
    assert effect["notes"] == [], effect["notes"]
    assert effect["impact"] == "rebuild + upload + retrain"
    keys = {c["key"]: (c["before"], c["after"]) for c in effect["config"]}
    assert keys["hyper_parameters.lora_rank"] == ("32", "64")
    assert keys["deploy.aigc_config.use_input_prompt"] == ("False", "True")
    by_id = {s["id"]: s for s in effect["samples"]}
    assert by_id["s07"]["status"] == "added"
    assert by_id["s01"]["status"] == "changed"
    assert "windy pier" in by_id["s01"]["caption"][1]
    assert effect["steps"]["before"] != effect["steps"]["after"]  # 6 -> 7 samples
    assert effect["contact_sheet"]
    assert (clone / effect["contact_sheet"]).is_file()
    md = run("diff", "main", "--format", "markdown").out
    assert "#### " not in md
    assert "<summary><b><code>fx</code></b>: changed" in md
    assert "standing ~~in front of backdrop number 1.~~ **on a windy pier.**" in md
    assert "| `hyper_parameters.lora_rank` | 32 | 64 |" in md
    plan = run("plan", "--since", "main", "--format", "markdown")
    assert plan.code == 2, plan.err
    assert "wanbuild diff: 1 of 1 effects changed" in plan.out
    assert "wanbuild plan:" in plan.out


def test_media_changed_in_place_is_named_by_its_dvc_hash(
    project: tuple[Path, Path], run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = project
    d = root / "effects" / "fx"
    (d / "media" / "s02.mp4").unlink()
    shutil.copy(d / "media" / "s03.mp4", d / "media" / "s02.mp4")
    monkeypatch.chdir(root)
    result = run("diff", "HEAD", "--format", "json")
    [effect] = json.loads(result.out)["effects"]
    [changed] = effect["samples"]
    assert (changed["id"], changed["media"]) == ("s02", ["media/s02.mp4"])
    assert changed["caption"] is None
