"""The models and regions in conf/, read as plain data (no composition): for the emulator and
`wanbuild init`, which need every model rather than one effect's choice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanbuild.config.load import read_yaml
from wanbuild.spec.effect import ModelSpec, Region


@dataclass(frozen=True)
class CatalogModel:
    spec: ModelSpec
    defaults: dict[str, Any]
    hp_schema: dict[str, Any]


@dataclass(frozen=True)
class Catalog:
    models: dict[str, CatalogModel]
    regions: dict[str, Region]


def load_catalog(conf_dir: Path) -> Catalog:
    models: dict[str, CatalogModel] = {}
    for path in sorted((conf_dir / "model").glob("*.yaml")):
        doc = read_yaml(path)
        spec = ModelSpec.model_validate(doc["model"])
        schema = json.loads(
            (conf_dir / "schema" / f"{spec.hyper_parameter_schema}.json").read_text(
                encoding="utf-8"
            )
        )
        for key, bounds in spec.hyper_parameter_bounds.items():
            schema.setdefault("properties", {}).setdefault(key, {}).update(bounds)
        models[spec.name] = CatalogModel(spec, dict(doc.get("hyper_parameters") or {}), schema)
    regions = {
        p.stem: Region.model_validate(read_yaml(p))
        for p in sorted((conf_dir / "region").glob("*.yaml"))
    }
    return Catalog(models, regions)
