"""`wanbuild checkpoints EFFECT`: the current job's kept checkpoints, their export state, and
the validation previews of each, to choose `deploy.checkpoint` from."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session, say_to
from wanbuild.errors import EXIT_OK
from wanbuild.reconcile.previews import keep
from wanbuild.store.previews import PreviewArchive


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
            archive = PreviewArchive.of(item.store.root)
            keep(item.client, o.job.job_id, archive, say_to(out, d.effect), effect=d.effect)
            kept = archive.job(o.job.job_id)["checkpoints"]
            pinned = d.checkpoint
            for c in item.client.list_checkpoints(o.job.job_id):
                mark = "*" if c.checkpoint == pinned else " "
                export = (
                    f"exported as {c.model_name}"
                    if c.model_name
                    else (f"export {c.status}" if c.status else "not exported")
                )
                print(f" {mark} {c.checkpoint:<18} {export}", file=out)
                samples = (kept.get(c.checkpoint) or {}).get("samples", {})
                for i, entry in sorted(samples.items(), key=lambda kv: int(kv[0])):
                    blob = entry.get("preview")
                    shown = (
                        "expired before it was kept" if blob == "expired" else archive.path(blob)
                    )
                    print(f"      sample {int(i) + 1}: {shown}", file=out)
            print(
                f"   side by side: `wanbuild review {d.effect}`; pin one: "
                f"`wanbuild pin {d.effect} checkpoint-N` (now: {pinned or 'the final model'})",
                file=out,
            )
    finally:
        session.close()
    return EXIT_OK
