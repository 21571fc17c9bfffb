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


def catalog_document(catalog: Catalog) -> dict[str, Any]:
    """The catalog as plain JSON data (catalog_from_document reads it back)."""
    return {
        "models": {
            name: {
                "spec": m.spec.model_dump(mode="json"),
                "defaults": m.defaults,
                "hp_schema": m.hp_schema,
            }
            for name, m in catalog.models.items()
        },
        "regions": {name: r.model_dump(mode="json") for name, r in catalog.regions.items()},
    }


def catalog_from_document(doc: dict[str, Any]) -> Catalog:
    models = {
        name: CatalogModel(ModelSpec.model_validate(m["spec"]), m["defaults"], m["hp_schema"])
        for name, m in doc["models"].items()
    }
    regions = {name: Region.model_validate(r) for name, r in doc["regions"].items()}
    return Catalog(models, regions)
