"""`wanbuild status [EFFECT...]`: what is live, what is in progress, the recorded lineage."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session, say_to
from wanbuild.errors import EXIT_OK
from wanbuild.reconcile.previews import keep
from wanbuild.store.previews import PreviewArchive


def status_command(effect_dirs: list[Path], overrides: list[str], out: TextIO) -> int:
    session = open_session(effect_dirs, overrides, out)
    try:
        for line in session.headers:
            print(line, file=out)
        for item in session.items:
            d = item.spec
            lock = item.lock
            o = item.observe()
            print(f"\n{d.effect} ({d.kind} on {d.model}, {d.target})", file=out)
            files = ", ".join(f"{s} {f.file_id}" for s, f in sorted(o.files.items()))
            rec = o.lock  # what the lock records, as observe read it
            recorded = (rec.dataset_fp or "")[:16] or "none"
            print(f"  dataset     {recorded}: {files or 'not uploaded'}", file=out)
            if o.job is None and rec.job_id:
                print(f"  job         {rec.job_id} recorded, not on the service", file=out)
            elif o.job is None:
                print(f"  job         none recorded ({d.steps_text})", file=out)
            else:
                j = o.job
                extra = f", step {j.step}/{d.total_steps}" if j.step is not None else ""
                extra += f", usage {j.usage:,} tokens" if j.usage else ""
                extra += f": {j.message}" if j.message and j.status != "SUCCEEDED" else ""
                print(
                    f"  job         {j.job_id} {j.status}{extra} -> {j.finetuned_output}", file=out
                )
                if j.status == "SUCCEEDED":  # before its previews' URLs expire
                    archive = PreviewArchive.of(item.store.root)
                    keep(item.client, j.job_id, archive, say_to(out, d.effect), effect=d.effect)
            if o.deployment is not None:
                dep = o.deployment
                capacity = f" (capacity {dep.capacity})" if dep.capacity is not None else ""
                print(f"  deployment  {dep.deployed_model} {dep.status}{capacity}", file=out)
            elif rec.deployed_model:
                print(f"  deployment  {rec.deployed_model} recorded, not on the service", file=out)
            else:
                print("  deployment  none recorded", file=out)
            for other in o.others:
                print(
                    f"  also        {other.deployed_model} {other.status} "
                    "(another deployment of this effect, retired once the current one runs)",
                    file=out,
                )
            for p in o.pending:
                found = ", ".join(p.candidates) or "nothing listed yet"
                print(
                    f"  unrecorded  {p.action} sent at {p.at} got no reply; candidates: {found}",
                    file=out,
                )
            if o.lookalikes:
                print(
                    f"  unclaimed   {', '.join(o.lookalikes)} look like this effect's but no "
                    f"lock records them: `wanbuild adopt {d.effect} ID`",
                    file=out,
                )
            applied = lock.entry().get("applied") or {}
            if applied:
                print(
                    f"  applied     commit {applied.get('commit')} at {applied.get('at')}", file=out
                )
    finally:
        session.close()
    return EXIT_OK
