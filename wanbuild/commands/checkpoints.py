"""`wanbuild checkpoints EFFECT`: the current job's kept checkpoints, their export state, and
the validation previews of each, to choose `deploy.checkpoint` from."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session
from wanbuild.errors import EXIT_OK


def checkpoints_command(effect_dirs: list[Path], overrides: list[str], out: TextIO) -> int:
    session = open_session(effect_dirs, overrides, out)
    try:
        for item in session.items:
            d = item.spec
            o = item.observe()
            if o.job is None or o.job.status != "SUCCEEDED":
                state = o.job.status if o.job else "not trained"
                print(f"{d.effect}: no checkpoints yet ({state})", file=out)
                continue
            print(f"{d.effect}: job {o.job.job_id} -> {o.job.finetuned_output}", file=out)
            previews = set(item.client.validation_results(o.job.job_id))
            pinned = d.checkpoint
            for c in item.client.list_checkpoints(o.job.job_id):
                mark = "*" if c.checkpoint == pinned else " "
                export = (
                    f"exported as {c.model_name}"
                    if c.model_name
                    else (f"export {c.status}" if c.status else "not exported")
                )
                print(f" {mark} {c.checkpoint:<18} {export}", file=out)
                if c.checkpoint in previews:
                    details = item.client.validation_details(o.job.job_id, c.checkpoint)
                    for row in details.get("list", []):
                        url = row.get("video_path") or row.get("image_path")
                        print(f"      preview {url}", file=out)
            print(
                f"   pin one with deploy.checkpoint: checkpoint-N in {d.effect}/effect.yaml "
                f"(now: {pinned or 'the final model'})",
                file=out,
            )
    finally:
        session.close()
    return EXIT_OK
