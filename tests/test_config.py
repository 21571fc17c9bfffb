"""Composition (conf/ < model < effect.yaml < command line) and clear errors for bad config."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from wanbuild.config.load import load_effect
from wanbuild.errors import ConfigError


def test_precedence_model_then_effect_then_cli(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(effect={"hyper_parameters": {"n_epochs": 200, "lora_rank": 64}})
    e = load_effect(d, []).effect
    assert e.hyper_parameters["n_epochs"] == 200  # effect over model
    assert e.hyper_parameters["lora_rank"] == 64
    assert e.hyper_parameters["batch_size"] == 4  # model default (wan2.2)
    e = load_effect(d, ["hyper_parameters.n_epochs=300"]).effect
    assert e.hyper_parameters["n_epochs"] == 300  # command line over effect
    e = load_effect(d, ["model=wan2.5-i2v-preview", "region=ap-southeast-1"]).effect
    assert e.model.name == "wan2.5-i2v-preview"
    assert e.region.name == "ap-southeast-1"
    assert e.region.upload_api == "compatible"
    assert e.hyper_parameters["batch_size"] == 2  # the new model's default
    assert e.hyper_parameters["max_pixels"] == 36864
    assert e.hyper_parameters["n_epochs"] == 200  # the effect still wins over any model


def test_the_issue_example_override(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory(n_train=10)
    e = load_effect(
        d,
        [
            "trigger=zq7x",
            "hyper_parameters.n_epochs=300",
            "model=wan2.5-i2v-preview",
            "region=ap-southeast-1",
        ],
    ).effect
    assert (e.trigger, e.hyper_parameters["n_epochs"], e.model.name, e.region.name) == (
        "zq7x",
        300,
        "wan2.5-i2v-preview",
        "ap-southeast-1",
    )
    result = run(
        "validate",
        str(d),
        "trigger=zq7x",
        "hyper_parameters.n_epochs=300",
        "model=wan2.5-i2v-preview",
        "region=ap-southeast-1",
    )
    assert result.code == 0, result.out


def test_overrides_reach_samples(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory()
    e = load_effect(d, ["samples.train.0.subject=A tall person,"]).effect
    assert e.samples.train[0].subject == "A tall person,"
    with pytest.raises(ConfigError, match=r"has no key 'train\.0\.subjekt'"):
        load_effect(d, ["samples.train.0.subjekt=x"])


def test_kind_follows_the_kind_parameter(effect_factory: Callable[..., Path]) -> None:
    d = effect_factory(kind="t2i")
    assert load_effect(d, []).effect.kind == "t2i"
    assert load_effect(d, ["hyper_parameters.generation_type=i2i"]).effect.kind == "i2i"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["hyper_parameters.n_epoch=3"],
            "effect.yaml: Could not override 'hyper_parameters.n_epoch'; To append to your config use +hyper_parameters.n_epoch=3",
        ),
        (
            ["model=wan9"],
            "Could not find 'model/wan9'; available options in 'model': wan2.1-t2v-1.3b",
        ),
        (["region=mars"], "Could not find 'region/mars'"),
        (["deploy.capacity=lots"], "deploy.capacity: Input should be a valid integer"),
        (
            ["+deploy.capcity=1"],
            "effect.yaml: deploy.capcity: unknown key (allowed: aigc_config, capacity, checkpoint, words)",
        ),
        (
            ["+backend.stat_dir=x"],
            "effect.yaml: backend.stat_dir: unknown key (allowed: base_url, lease, lease_remote, "
            "lease_ttl, library_dir, name, num_processes, profile, state_dir, time_scale, workspace)",
        ),
        (
            ["backend.name=cloud"],
            "backend.name: Input should be 'emulator', 'dashscope' or 'local'",
        ),
        (["deploy.checkpoint=best"], "deploy.checkpoint: String should match pattern"),
        (["trigger=???"], "`trigger` is required but not set"),
    ],
)
def test_config_errors_are_one_clear_line(
    effect_factory: Callable[..., Path], run: Callable[..., Run], argv: list[str], expected: str
) -> None:
    d = effect_factory()
    result = run("validate", str(d), *argv)
    assert result.code == 1
    error_lines = result.lines("error:")
    assert len(error_lines) == 1, result.out
    assert expected in error_lines[0]


def test_unknown_key_in_samples_names_the_entry(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    text = (d / "samples.yaml").read_text().replace("  background:", "  backgruond:", 1)
    (d / "samples.yaml").write_text(text)
    result = run("validate", str(d))
    assert result.code == 1
    assert "samples.yaml: train[0].backgruond: unknown key (allowed: background," in result.out


def test_broken_yaml_names_the_line(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    (d / "effect.yaml").write_text("defaults: [config\ntrigger: x\n")
    result = run("validate", str(d))
    assert result.code == 1
    assert result.out.count("error:") == 1
    assert "effect.yaml: line 2: not valid YAML" in result.out


def test_missing_pieces(
    effect_factory: Callable[..., Path], run: Callable[..., Run], tmp_path: Path
) -> None:
    assert "effects/nope: no such effect directory" in run("validate", "effects/nope").out
    d = effect_factory()
    (d / "samples.yaml").unlink()
    assert "samples.yaml: missing" in run("validate", str(d)).out
    (tmp_path / "effects" / "empty").mkdir()
    result = run("validate", "effects/empty")
    assert result.code == 1
    assert "effect.yaml: missing; scaffold it with `wanbuild init" in result.out


def test_defaults_list_must_name_config(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    d = effect_factory()
    (d / "effect.yaml").write_text("trigger: zq7x9k\neffect: x {trigger}\n")
    result = run("validate", str(d))
    assert "`defaults` must start with `- config`" in result.out


def test_default_targets_are_all_effects(
    effect_factory: Callable[..., Path], run: Callable[..., Run]
) -> None:
    effect_factory("a")
    effect_factory("b", n_train=2)
    result = run("validate")
    assert result.code == 1
    assert "effects/a/effect.yaml: ok" in result.out
    assert "effects/b/effect.yaml: FAILED" in result.out


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "effects/nope"],
        ["validate", "effects/fx", "model=wan9"],
        ["validate", "effects/fx", "hyper_parameters.n_epoch=1"],
        ["show-prompts", "effects/nope"],
        ["init", "effects/fx", "--model", "wan2.2-i2v-flash"],
    ],
)
def test_no_traceback_for_user_errors(
    effect_factory: Callable[..., Path], tmp_path: Path, argv: list[str]
) -> None:
    effect_factory()
    proc = subprocess.run(
        [sys.executable, "-m", "wanbuild", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "error:" in proc.stdout + proc.stderr
