"""Compose an effect's configuration with Hydra's Compose API. The only Hydra/OmegaConf importer.

effect.yaml is the primary config; conf/ is put on the search path so its defaults list can
name `config` and override `model` and `region`. Precedence, lowest first:
conf/config.yaml < conf/model/<m>.yaml < effect.yaml < command-line overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wanbuild.errors import ConfigError


def compose(effect_dir: Path, conf_dir: Path, overrides: list[str], display: str) -> dict[str, Any]:
    """The composed, resolved effect configuration as plain data."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    GlobalHydra.instance().clear()
    search = f"hydra.searchpath=['file://{conf_dir.resolve()}']"
    try:
        with initialize_config_dir(
            config_dir=str(effect_dir.resolve()), version_base="1.3", job_name="wanbuild"
        ):
            cfg = hydra_compose(config_name="effect", overrides=[search, *overrides])
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as e:
        key = getattr(e, "full_key", "") or "?"
        raise ConfigError(f"{display}: `{key}` is required but not set") from None
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(f"{display}: {_hydra_message(e)}") from None
    finally:
        GlobalHydra.instance().clear()
    assert isinstance(data, dict)
    return {str(k): v for k, v in data.items()}


def apply_overrides(data: dict[str, Any], overrides: list[str], display: str) -> dict[str, Any]:
    """Apply `key=value` overrides to plain data (samples.yaml), refusing keys that do not exist."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not overrides:
        return data
    cfg = OmegaConf.create(data)
    OmegaConf.set_struct(cfg, True)
    for item in overrides:
        key, _, raw = item.partition("=")
        try:
            if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
                raise ConfigError(f"override {item!r}: {display} has no key {key!r}")
            OmegaConf.update(cfg, key, _parse_value(raw), merge=False)
        except OmegaConfBaseException as e:
            raise ConfigError(f"override {item!r}: {_first_line(e)}") from None
    out = OmegaConf.to_container(cfg)
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}


_MISSING = object()


def _parse_value(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _hydra_message(e: BaseException) -> str:
    """Hydra's message on one line: the problem, the hint, the options; no search path."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        if line.startswith("Config search path"):
            break
        kept.append(line)
    if not kept:
        return e.__class__.__name__
    head, rest = kept[0], kept[1:]
    if rest and rest[0].startswith("Available options"):
        return f"{head}; {rest[0].rstrip(':').lower()}: {', '.join(rest[1:])}"
    return "; ".join(line.rstrip(".") for line in [head, *rest])


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__
