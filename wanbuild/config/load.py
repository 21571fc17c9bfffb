"""Load an effect: effect.yaml composed over conf/, samples.yaml, overrides -> a validated Effect.

Errors name the file and key and say what to do; they are ConfigErrors, never tracebacks.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wanbuild.config.compose import apply_overrides, compose
from wanbuild.config.places import (
    EFFECT_FILE,
    SAMPLES_FILE,
    discover_effects,
    display,
    find_conf_dir,
    project_root,
)
from wanbuild.core.names import effect_name_problem
from wanbuild.errors import ConfigError
from wanbuild.spec.effect import Effect, ModelSpec

__all__ = ["LoadedEffect", "discover_effects", "display", "find_conf_dir", "project_root"]


@dataclass(frozen=True)
class LoadedEffect:
    effect: Effect
    conf_dir: Path
    effect_file: str
    samples_file: str
    project: Path  # where build/ and .wanbuild/ live, whatever the working directory


def read_yaml(path: Path) -> Any:
    """Every YAML file wanbuild reads goes through the bounded loader (config.safe_yaml)."""
    from wanbuild.config import safe_yaml  # here: a run from caches reads no YAML at all

    return safe_yaml.load(path, display(path))


_checked_conf: set[Path] = set()


def check_conf_files(conf_dir: Path) -> None:
    """Hydra reads conf/ itself: run its YAML past the bounded loader first (once per run)."""
    if conf_dir in _checked_conf:
        return
    for path in sorted(conf_dir.rglob("*.yaml")):
        read_yaml(path)
    _checked_conf.add(conf_dir)


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(overrides for effect.yaml via Hydra, overrides for samples.yaml: `samples.<key>=...`)."""
    hydra, samples = [], []
    for item in overrides:
        if item.startswith("samples."):
            samples.append(item.removeprefix("samples."))
        else:
            hydra.append(item)
    return hydra, samples


def load_effect(
    effect_dir: Path, overrides: list[str], conf_dir: Path | None = None
) -> LoadedEffect:
    if not effect_dir.is_dir():
        raise ConfigError(f"{display(effect_dir)}: no such effect directory")
    effect_path = effect_dir / EFFECT_FILE
    samples_path = effect_dir / SAMPLES_FILE
    if not effect_path.is_file():
        raise ConfigError(
            f"{display(effect_path)}: missing; scaffold it with "
            f"`wanbuild init {display(effect_dir)} --model <model>`"
        )
    problem = effect_name_problem(effect_dir.resolve().name)
    if problem:
        raise ConfigError(f"{display(effect_dir)}: the effect name {problem}")
    conf = conf_dir or find_conf_dir(effect_dir)
    check_conf_files(conf)
    _check_effect_file(effect_path)
    hydra_overrides, sample_overrides = split_overrides(overrides)
    data = compose(effect_dir, conf, hydra_overrides, display(effect_path))
    if not samples_path.is_file():
        raise ConfigError(f"{display(samples_path)}: missing; list the effect's samples there")
    samples = read_yaml(samples_path)
    if samples is None:
        samples = {}
    if not isinstance(samples, dict):
        raise ConfigError(
            f"{display(samples_path)}: expected a mapping with `train:` and `validation:`"
        )
    samples = {k: ([] if v is None else v) for k, v in samples.items()}
    samples = apply_overrides(samples, sample_overrides, display(samples_path))
    data.update(name=effect_dir.resolve().name, directory=effect_dir.resolve(), samples=samples)
    try:
        effect = Effect.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            _format_validation(e, display(effect_path), display(samples_path))
        ) from None
    return LoadedEffect(
        effect, conf, display(effect_path), display(samples_path), project_root(effect_dir)
    )


def _check_effect_file(path: Path) -> None:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{display(path)}: expected a mapping of keys (trigger, effect, ...)")
    defaults = raw.get("defaults")
    if not isinstance(defaults, list) or "config" not in defaults:
        raise ConfigError(
            f"{display(path)}: `defaults` must start with `- config`, then "
            "`- override model: <model>` and `- override region: <region>`, then `- _self_`"
        )


def load_hp_schema(conf_dir: Path, model: ModelSpec) -> dict[str, Any]:
    """The model family's JSON Schema for hyper_parameters, with the model's own bounds added."""
    path = conf_dir / "schema" / f"{model.hyper_parameter_schema}.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{display(path)}: missing (named by model.hyper_parameter_schema)"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{display(path)}: invalid JSON at line {e.lineno}: {e.msg}") from None
    for key, bounds in model.hyper_parameter_bounds.items():
        prop = schema.setdefault("properties", {}).setdefault(key, {})
        prop.update(bounds)
    return schema


def _format_validation(err: ValidationError, effect_file: str, samples_file: str) -> str:
    lines = []
    for item in err.errors():
        loc = item["loc"]
        file = samples_file if loc and loc[0] == "samples" else effect_file
        path = _loc_text(loc[1:] if loc and loc[0] == "samples" else loc)
        # an unknown key: of a model, or of a dataclass field (region, backend)
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            allowed = _allowed_keys(Effect, loc[:-1])
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{file}: {path}: unknown key{hint}")
        elif item["type"] == "missing":
            lines.append(f"{file}: {path}: required but missing")
        else:
            lines.append(f"{file}: {path}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def _loc_text(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = _field_types(current).get(part)
        current = None if annotation is None else _model_in(annotation)
        if current is None:
            return []
    return sorted(_field_types(current))


def _field_types(cls: type) -> dict[str, Any]:
    """{key: its type} of a spec model or a dataclass in one."""
    if issubclass(cls, BaseModel):
        return {name: f.annotation for name, f in cls.model_fields.items()}
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return {}


def _model_in(annotation: Any) -> type | None:
    if isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)
    ):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
