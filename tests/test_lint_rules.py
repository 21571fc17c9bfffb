"""Lint rules as pure functions: one composed effect, varied in memory, linted directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wanbuild.config.load import load_effect, load_hp_schema
from wanbuild.core.findings import Finding
from wanbuild.core.lint import LintInput, MediaKey, lint
from wanbuild.dataset.preflight import probe_media
from wanbuild.spec.effect import Effect
from wanbuild.spec.media import Probe
from wanbuild.store import Store


@dataclass
class Linter:
    effect: Effect
    schema: dict[str, Any]
    probes: dict[MediaKey, Probe]

    def __call__(self, **changes: Any) -> list[Finding]:
        return lint(
            LintInput(
                effect=self.effect.model_copy(update=changes),
                effect_file="effect.yaml",
                samples_file="samples.yaml",
                hp_schema=self.schema,
                probes=self.probes,
                is_word=lambda token: token in {"money", "rain"},
            )
        )

    def first_id(self, new_id: str) -> Any:
        samples = self.effect.samples
        first = samples.train[0].model_copy(update={"id": new_id})
        return samples.model_copy(update={"train": (first, *samples.train[1:])})


@pytest.fixture
def linted(effect_factory: Callable[..., Path], tmp_path: Path) -> Linter:
    loaded = load_effect(effect_factory(), [])
    with Store(tmp_path / ".wanbuild").hash_cache() as cache:
        probes = probe_media(loaded.effect, cache)
    return Linter(loaded.effect, load_hp_schema(loaded.conf_dir, loaded.effect.model), probes)


def at(findings: list[Finding], where: str) -> list[str]:
    return [f"{f.severity}: {f.message}" for f in findings if f.where == where]


def test_the_factory_effect_is_clean(linted: Linter) -> None:
    assert [f for f in linted() if f.severity == "error"] == []


@pytest.mark.parametrize(
    ("trigger", "says"),
    [
        ("x" * 33 + "1", "error: 34 characters; a trigger is one short rare token, at most 32"),
        ("zq", "error: 'zq' is not a single token"),
        ("money", "error: 'money' is an English word"),
        ("zqxkw", "warning: 'zqxkw' has no digits"),
    ],
)
def test_trigger_rules(linted: Linter, trigger: str, says: str) -> None:
    assert any(line.startswith(says) for line in at(linted(trigger=trigger), "trigger"))


@pytest.mark.parametrize(
    ("new_id", "says"),
    [
        ("s" * 300, "error: 300 characters"),
        ("woman ivy", "error: 'woman ivy' is not a name the service accepts"),
        ("s02", "error: duplicate id 's02'"),
    ],
)
def test_sample_id_rules(linted: Linter, new_id: str, says: str) -> None:
    findings = linted(samples=linted.first_id(new_id))
    assert any(
        line.startswith(says) for line in at(findings, "train[0].id") + at(findings, "train[1].id")
    )


@pytest.mark.parametrize(
    ("hp", "where", "says"),
    [
        ({"n_epochs": 300, "eval_epochs": 30}, "hyper_parameters.n_epochs", "required minimum"),
        ({"eval_epochs": 20}, "hyper_parameters.eval_epochs", "below n_epochs/10 = 40"),
    ],
)
def test_step_rules(linted: Linter, hp: dict[str, Any], where: str, says: str) -> None:
    findings = linted(hyper_parameters={**linted.effect.hyper_parameters, **hp})
    assert any(says in line and line.startswith("error") for line in at(findings, where))
