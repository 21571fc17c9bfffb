"""The models and regions in conf/, read as plain data (no composition): for the emulator and
`wanbuild init`, which need every model rather than one effect's choice."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wanbuild.spec.endpoint import Region

if TYPE_CHECKING:
    from wanbuild.spec.effect import ModelSpec


@dataclass(frozen=True)
class CatalogModel:
    document: dict[str, Any]  # the model's spec as plain data, validated as `spec` when used
    defaults: dict[str, Any]
    hp_schema: dict[str, Any]

    @functools.cached_property
    def spec(self) -> ModelSpec:
        """The model's spec, validated on first use: a run that only lists the remote (the
        embedded emulator answering a plan) never asks."""
        from wanbuild.spec.effect import ModelSpec

        return ModelSpec.model_validate(self.document)


@dataclass(frozen=True)
class Catalog:
    models: dict[str, CatalogModel]
    regions: dict[str, Region]


def load_catalog(conf_dir: Path) -> Catalog:
    from pydantic import TypeAdapter

    from wanbuild.config.load import load_hp_schema, read_yaml
    from wanbuild.spec.effect import ModelSpec

    models: dict[str, CatalogModel] = {}
    for path in sorted((conf_dir / "model").glob("*.yaml")):
        doc = read_yaml(path)
        spec = ModelSpec.model_validate(doc["model"])
        schema = load_hp_schema(conf_dir, spec)
        models[spec.name] = CatalogModel(
            spec.model_dump(mode="json"), dict(doc.get("hyper_parameters") or {}), schema
        )
    region = TypeAdapter(Region)
    regions = {
        p.stem: region.validate_python(read_yaml(p))
        for p in sorted((conf_dir / "region").glob("*.yaml"))
    }
    return Catalog(models, regions)


def catalog_document(catalog: Catalog) -> dict[str, Any]:
    """The catalog as plain JSON data (catalog_from_document reads it back)."""
    return {
        "models": {
            name: {"spec": m.document, "defaults": m.defaults, "hp_schema": m.hp_schema}
            for name, m in catalog.models.items()
        },
        "regions": {name: dataclasses.asdict(r) for name, r in catalog.regions.items()},
    }


def catalog_from_document(doc: dict[str, Any]) -> Catalog:
    """The catalog catalog_document wrote (validated when it was loaded from conf/)."""
    models = {
        name: CatalogModel(m["spec"], m["defaults"], m["hp_schema"])
        for name, m in doc["models"].items()
    }
    regions = {name: Region(**r) for name, r in doc["regions"].items()}
    return Catalog(models, regions)
