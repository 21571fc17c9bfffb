"""An effect's remote identity from its configuration alone: which backend and region its lock
entry is kept under, which model and upload API it uses, its steps. Pure: no media, no build.
The desired state (dataset.desired) starts from the same values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wanbuild.core.estimate import estimate
from wanbuild.spec.state import TargetSpec

if TYPE_CHECKING:
    from wanbuild.spec.effect import Effect


def target_spec(e: Effect) -> TargetSpec:
    est = estimate(e)
    return TargetSpec(
        effect=e.name,
        target=f"{e.backend.name}/{e.region.name}",
        kind=e.kind,
        model=e.model.name,
        region=e.region.name,
        upload_api=e.region.upload_api,
        checkpoint=e.deploy.checkpoint,
        total_steps=est.total_steps,
        steps_text=est.steps_text,
    )
