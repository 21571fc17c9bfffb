"""The prompt compiler for all four kinds, and `wanbuild show-prompts`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Run
from tests.helpers import edit_samples
from wanbuild.config.load import load_effect
from wanbuild.core.prompts import compile_effect, join_parts

MONEY = (
    "Then the {trigger} money rain effect begins, bills pour down around {them}. "
    "{they} stretches {their} arms upward."
)


def test_i2v_formula_and_aigc_config(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(n_validation=1, effect={"effect": MONEY})
    edit_samples(d, "train", 0, distractors="A red car drives past.")
    c = compile_effect(load_effect(d, []).effect)
    assert c.train[0].prompt == (
        "A person number 1 in a grey coat, standing in front of backdrop number 1. "
        "Then the zq7x9k money rain effect begins, bills pour down around her. "
        "she stretches her arms upward. A red car drives past."
    )
    assert c.train[1].prompt.endswith("around him. he stretches his arms upward.")
    assert "red car" not in c.validation[0].prompt
    assert c.validation[0].prompt.startswith("A person number 1 in a grey coat,")
    aigc = c.aigc_config
    assert aigc is not None
    assert aigc.lora_prompt_default == (
        "Then the zq7x9k money rain effect begins, bills pour down around her/him. "
        "she/he stretches her/his arms upward."
    )
    assert aigc.use_input_prompt is False
    assert aigc.prompt is not None
    assert aigc.prompt.startswith("Provide a video description based on the image content.")
    assert f"“{aigc.lora_prompt_default}”" in aigc.prompt
    assert "Output Template:\nThe video begins with a shot of [subject description]." in aigc.prompt
    # the example is the first sample as a validation prompt: no distractor note
    assert aigc.prompt.endswith(
        "Example:\n" + c.train[0].prompt.removesuffix(" A red car drives past.")
    )


def test_effect_text_is_identical_across_prompts(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(n_validation=2, effect={"effect": "Then the {trigger} spin begins."})
    c = compile_effect(load_effect(d, []).effect)
    for p in (*c.train, *c.validation):
        assert p.prompt.endswith("Then the zq7x9k spin begins.")


def test_distractors_slot_and_deploy_words(effect_factory: Callable[..., Path]) -> None:
    template = "Then {they} begins the {trigger} transformation.{distractors} It ends."
    d = effect_factory(effect={"effect": template, "deploy": {"words": {"they": "the person"}}})
    edit_samples(d, "train", 0, distractors="A pattern vanishes.", words={"they": "she"})
    c = compile_effect(load_effect(d, []).effect)
    assert c.train[0].prompt.endswith(
        "Then she begins the zq7x9k transformation. A pattern vanishes. It ends."
    )
    assert c.train[1].prompt.endswith("Then he begins the zq7x9k transformation. It ends.")
    assert c.aigc_config is not None
    assert (
        c.aigc_config.lora_prompt_default
        == "Then the person begins the zq7x9k transformation. It ends."
    )


def test_kf2v_compiles_like_i2v(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(
        kind="kf2v",
        effect={"effect": "Then {they} begins the {trigger} transformation."},
        n_validation=1,
    )
    for s in range(6):
        edit_samples(d, "train", s, words={"they": "she" if s % 2 == 0 else "he"})
    edit_samples(d, "validation", 0, words={"they": "she"})
    c = compile_effect(load_effect(d, []).effect)
    assert c.train[0].prompt.endswith("Then she begins the zq7x9k transformation.")
    assert c.aigc_config is not None
    assert c.aigc_config.lora_prompt_default == "Then she/he begins the zq7x9k transformation."


def test_image_kinds_lead_with_the_trigger(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(kind="t2i", n_validation=1)
    c = compile_effect(load_effect(d, []).effect)
    assert c.train[0].prompt == (
        "zq7x9k, A person number 1 in a grey coat, standing in front of backdrop number 1. "
        "Rendered in flat illustration style with clean lines."
    )
    assert c.validation[0].prompt.startswith("zq7x9k, A person number 1")
    assert c.aigc_config is None
    d2 = effect_factory(
        "i2i", kind="i2i", effect={"effect": "Change the clothing to red mech armor."}
    )
    c2 = compile_effect(load_effect(d2, []).effect)
    assert c2.train[0].prompt == (
        "zq7x9k, standing in front of backdrop number 1. Change the clothing to red mech armor."
    )


def test_cjk_parts_join_without_spaces() -> None:
    assert join_parts(
        ["视频开头展示了一位年轻女性。", "背景是砖墙。", "然后开始展示s86b5p金钱雨特效。"]
    ) == ("视频开头展示了一位年轻女性。背景是砖墙。然后开始展示s86b5p金钱雨特效。")
    assert join_parts(["A woman.", "", "A wall."]) == "A woman. A wall."


def test_show_prompts_text_and_json(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory(n_validation=1)
    text = run("show-prompts", str(d))
    assert text.code == 0
    assert "## train (6)" in text.out
    assert "[s01] A person number 1" in text.out
    assert "lora_prompt_default: Then the zq7x9k money rain effect begins" in text.out
    doc = json.loads(run("show-prompts", str(d), "--json").out)
    assert doc[0]["effect"] == "fx"
    assert [p["id"] for p in doc[0]["train"]] == [f"s{i:02d}" for i in range(1, 7)]
    assert doc[0]["aigc_config"]["use_input_prompt"] is False
    image = effect_factory("img", kind="t2i")
    assert "(none: image deployments take no aigc_config)" in run("show-prompts", str(image)).out
