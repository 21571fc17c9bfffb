"""The models and regions in conf/, read as plain data (no composition): for the emulator and
`wanbuild init`, which need every model rather than one effect's choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanbuild.config.load import load_hp_schema, read_yaml
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
        schema = load_hp_schema(conf_dir, spec)
        models[spec.name] = CatalogModel(spec, dict(doc.get("hyper_parameters") or {}), schema)
    regions = {
        p.stem: Region.model_validate(read_yaml(p))
        for p in sorted((conf_dir / "region").glob("*.yaml"))
    }
    return Catalog(models, regions)
