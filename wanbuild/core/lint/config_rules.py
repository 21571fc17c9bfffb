"""Lint: the model in its region, and hyperparameters against the schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from wanbuild.core.findings import Finding

# Sample ids become zip entry names; without limits (a model not offered in the region) the
from wanbuild.core.lint.base import (
    LintInput,
)
from wanbuild.spec.kinds import is_video_kind


def _region(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    if e.region.name not in e.model.regions:
        yield Finding(
            "error",
            inp.effect_file,
            "region",
            f"{e.model.name} cannot be fine-tuned in {e.region.name} "
            f"(offered in: {', '.join(e.model.regions)})",
            f"pick one of those regions (region=...) or a model offered in {e.region.name}",
        )


def _hyper_parameters(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    allowed = sorted(inp.hp_schema.get("properties", {}))
    validator = jsonschema.Draft202012Validator(dict(inp.hp_schema))
    for err in sorted(validator.iter_errors(e.hyper_parameters), key=lambda x: list(x.path)):
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(allowed))
            for key in extra:
                yield Finding(
                    "error",
                    inp.effect_file,
                    f"hyper_parameters.{key}",
                    f"not a hyperparameter of {e.model.name}",
                    f"remove it; allowed keys: {', '.join(allowed)}",
                )
            continue
        key = ".".join(str(p) for p in err.path) or "hyper_parameters"
        prop = inp.hp_schema.get("properties", {}).get(str(err.path[-1]) if err.path else "", {})
        fix = f"use one of {prop['enum']}" if "enum" in prop else _bounds_text(err.schema)
        yield Finding(
            "error",
            inp.effect_file,
            f"hyper_parameters.{key}" if err.path else key,
            _short(err.message),
            fix,
        )
    hp = e.hyper_parameters
    if is_video_kind(e.kind) and _is_int(hp.get("n_epochs")) and _is_int(hp.get("eval_epochs")):
        n, every = hp["n_epochs"], hp["eval_epochs"]
        if every * 10 < n:
            yield Finding(
                "error",
                inp.effect_file,
                "hyper_parameters.eval_epochs",
                f"{every} is below n_epochs/10 = {n / 10:g}; the service requires "
                "eval_epochs >= n_epochs/10",
                f"set eval_epochs to at least {-(-n // 10)}",
            )
        elif every > n:
            yield Finding(
                "warning",
                inp.effect_file,
                "hyper_parameters.eval_epochs",
                f"{every} exceeds n_epochs {n}: no intermediate checkpoint will be saved",
                "lower eval_epochs to get checkpoints to choose from",
            )
    image = not is_video_kind(e.kind)
    if image and _is_int(hp.get("eval_steps")) and _is_int(hp.get("max_steps")):  # noqa: SIM102
        if hp["eval_steps"] > hp["max_steps"]:
            yield Finding(
                "warning",
                inp.effect_file,
                "hyper_parameters.eval_steps",
                f"{hp['eval_steps']} exceeds max_steps {hp['max_steps']}: no checkpoint before it",
                "lower eval_steps",
            )


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def _bounds_text(schema: Mapping[str, Any]) -> str:
    parts = []
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "type" in schema:
        parts.insert(0, f"a {schema['type']}")
    return "use " + " and ".join(parts) if parts else "see the model's documented range"
