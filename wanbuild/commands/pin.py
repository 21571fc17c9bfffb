"""`wanbuild pin EFFECT checkpoint-N` (or `--final`): deploy that checkpoint of the current job.

Writes `deploy.checkpoint` into effect.yaml, every other byte as it was (comments, layout), once
the job is known to have kept that checkpoint, and prints what the plan becomes: an export and
a redeploy, never a retrain (the checkpoint is part of the deployment, not of the job).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session
from wanbuild.config.yaml_edit import set_deploy_checkpoint
from wanbuild.core.plan import plan
from wanbuild.core.render import render_text
from wanbuild.errors import EXIT_OK, WanbuildError


def pin_command(
    effect_dir: Path, checkpoint: str | None, overrides: list[str], out: TextIO, *, final: bool
) -> int:
    if final == (checkpoint is not None):
        raise WanbuildError("pin takes a checkpoint (checkpoint-N) or --final, not both")
    if any("=" not in o for o in overrides):
        raise WanbuildError(f"pin takes one effect and one checkpoint: {' '.join(overrides)}")
    session = open_session([effect_dir], overrides, out, build=True, write=False)
    try:
        item = session.items[0]
        o = item.observe()
        if checkpoint is not None:
            if o.job is None or o.job.status != "SUCCEEDED":
                state = o.job.status if o.job else "not trained"
                raise WanbuildError(f"{item.spec.effect}: no checkpoints to pin yet ({state})")
            kept = [c.checkpoint for c in item.client.list_checkpoints(o.job.job_id)]
            if checkpoint not in kept:
                raise WanbuildError(
                    f"{checkpoint}: job {o.job.job_id} kept no such checkpoint; kept: "
                    f"{', '.join(kept) or 'none'} (`wanbuild review {effect_dir}` shows them)"
                )
    finally:
        session.close()
    effect_file = effect_dir / "effect.yaml"
    set_deploy_checkpoint(effect_file, checkpoint)
    print(
        f"{item.spec.effect}: deploy.checkpoint: {checkpoint or 'null'} in {effect_file}"
        + (" (the final model)" if checkpoint is None else ""),
        file=out,
    )
    after = open_session([effect_dir], overrides, out, build=True, write=False)
    try:
        pinned = after.items[0]
        planned = plan(pinned.desired, pinned.observe())
        print(render_text([planned], "", {}).lstrip("\n"), file=out)
    finally:
        after.close()
    return EXIT_OK
