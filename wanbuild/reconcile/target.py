"""An effect's remote identity from its configuration alone: which backend and region its lock
entry is kept under, which model and upload API it uses. No media are read, nothing is built."""

from __future__ import annotations

from wanbuild.config.load import LoadedEffect
from wanbuild.core.estimate import estimate
from wanbuild.spec.state import TargetSpec


def target_spec(loaded: LoadedEffect) -> TargetSpec:
    e = loaded.effect
    est = estimate(e)
    return TargetSpec(
        effect=e.name,
        target=loaded.target,
        kind=e.kind,
        model=e.model.name,
        region=e.region.name,
        upload_api=e.region.upload_api,
        checkpoint=e.deploy.checkpoint,
        total_steps=est.total_steps,
        steps_text=est.steps_text,
    )
