"""`wanbuild review EFFECT [--format html|png] [--golden] [--yes]`: the checkpoints of the
effect's job side by side, to choose `deploy.checkpoint` by looking (wanbuild pin).

The previews come from the archive (reconcile.previews), brought up to date first, so a page
made days after training still shows every checkpoint that was seen in time. The page lies in
.wanbuild/review/<effect>/index.html with its media beside it in media/ (a folder that can be
zipped, attached or opened offline); `--format png` writes the contact sheet review.png
instead (first, middle and last frame of every cell), for a pull-request comment. `--golden`
first renders each validation sample with the live deployment (billed: stated, and asked on
the real service unless --yes), as the first column: what users get today.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands.session import Item, confirm, open_session, say_to
from wanbuild.commands.try_effect import wait_task
from wanbuild.core.review_page import Column, Grid, Row, render_html
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.media.display import jpeg_data_url
from wanbuild.media.sheet import grid_sheet
from wanbuild.reconcile.previews import keep
from wanbuild.store.previews import GOLDEN, PreviewArchive


def review_command(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    fmt: str,
    golden: bool,
    yes: bool,
    poll: float,
) -> int:
    if len(effect_dirs) != 1:
        raise WanbuildError("review takes one effect")
    session = open_session(effect_dirs, overrides, out, build=True, write=False)
    try:
        item = session.items[0]
        d = item.desired
        say = say_to(out, d.effect)
        o = item.observe()
        if o.job is None or o.job.status != "SUCCEEDED":
            state = o.job.status if o.job else "no job"
            raise WanbuildError(
                f"{d.effect}: no checkpoints to review yet ({state}); "
                f"`wanbuild apply --wait {effect_dirs[0]}` first"
            )
        archive = PreviewArchive.of(item.store.root)
        keep(item.client, o.job.job_id, archive, say, effect=d.effect)
        if golden:
            if o.deployment is None or o.deployment.status != "RUNNING":
                raise WanbuildError(f"{d.effect}: --golden needs a running deployment")
            dep = o.deployment.deployed_model
            if not _golden(item, o.job.job_id, dep, archive, out, yes or not session.real, poll):
                return EXIT_ERROR
        live = (item.lock.entry().get("deployment") or {}) if o.deployment else {}
        grid_dir = item.store.root / "review" / d.effect
        grid, media = _grid(d, archive.job(o.job.job_id), archive, live, golden)
        _place(media, grid_dir / "media")
        if fmt == "png":
            sheet = grid_sheet(
                [c.title for c in grid.columns],
                [(r.title, [grid_dir / m if m else None for m in r.cells]) for r in grid.rows],
                grid_dir / "review.png",
            )
            print(f"{d.effect}: contact sheet {sheet}", file=out)
            return EXIT_OK
        page = grid_dir / "index.html"
        tmp = page.with_name(f".{page.name}.{os.getpid()}.tmp")
        tmp.write_text(render_html(grid), encoding="utf-8")
        os.replace(tmp, page)
        print(f"{d.effect}: review page {page}", file=out)
    finally:
        session.close()
    return EXIT_OK


def _number(checkpoint: str) -> int:
    m = re.search(r"(\d+)$", checkpoint)
    return int(m.group(1)) if m else 0


def _grid(
    d: Any, doc: dict[str, Any], archive: PreviewArchive, live: dict[str, Any], golden: bool
) -> tuple[Grid, dict[str, Path]]:
    """The grid of the archived job, and the files its cells name (page path -> blob)."""
    checkpoints = sorted(doc["checkpoints"], key=_number)
    video = d.kind in ("i2v", "kf2v")
    m = re.match(r"(\d+) steps = (\d+) epochs", d.steps_text)
    per_epoch = int(m.group(1)) // max(int(m.group(2)), 1) if m else None
    final = checkpoints[-1] if checkpoints else None
    live_ck = live.get("checkpoint") or final if live else None
    columns = []
    if golden:
        dep = str(live.get("deployed_model", ""))
        columns.append(Column(GOLDEN, "live deployment", dep, ("live",)))
    for ck in checkpoints:
        n = _number(ck)
        detail = f"epoch {n} · step {n * per_epoch}" if video and per_epoch else f"step {n}"
        marks = tuple(
            mark
            for mark, yes in (
                ("live", ck == live_ck and not golden),
                ("pinned", ck == d.checkpoint),
                ("final", ck == final),
            )
            if yes
        )
        columns.append(Column(ck, ck, detail, marks))
    count = _sample_count(doc)
    media: dict[str, Path] = {}

    def page_path(blob: str | None) -> str | None:
        if not blob or blob == "expired":
            return None
        name = f"media/{Path(blob).name}"
        media[name] = archive.path(blob)
        return name

    rows = []
    renders = (doc.get("golden") or {}).get(str(live.get("deployed_model")), {})
    for i in range(count):
        entries = [doc["checkpoints"][ck]["samples"].get(str(i), {}) for ck in checkpoints]
        prompt = next((str(e["prompt"]) for e in entries if e.get("prompt")), "")
        first = next((e["first_frame"] for e in entries if e.get("first_frame")), None)
        cells: list[str | None] = []
        missing: list[str] = []
        if golden:
            cells.append(page_path(renders.get(str(i))))
            missing.append("not rendered")
        for e in entries:
            cells.append(page_path(e.get("preview")))
            missing.append(
                "expired before it was kept" if e.get("preview") == "expired" else "not seen"
            )
        title = f"validation sample {i + 1}"
        rows.append(Row(title, prompt, page_path(first), tuple(cells), tuple(missing)))
    note = f"Live: {live_ck or 'none'}; pinned: {d.checkpoint or 'the final model'}."
    return Grid(d.effect, str(doc["job_id"]), d.kind, tuple(columns), tuple(rows), note), media


def _sample_count(doc: dict[str, Any]) -> int:
    """How many validation samples the archived job has (its checkpoints' most)."""
    return max((len(c.get("samples", {})) for c in doc["checkpoints"].values()), default=0)


def _place(media: dict[str, Path], where: Path) -> None:
    """The cells' files beside the page (a hard link where the disk allows, else a copy)."""
    where.mkdir(parents=True, exist_ok=True)
    for name, src in media.items():
        dst = where / Path(name).name
        if dst.exists():
            continue
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def _golden(
    item: Item,
    job_id: str,
    deployed_model: str,
    archive: PreviewArchive,
    out: TextIO,
    yes: bool,
    poll: float,
) -> bool:
    """Render each validation sample with the live deployment (what users get today) once,
    into the archive. False when the user declines."""
    d = item.desired
    doc = archive.job(job_id)
    done = (doc.get("golden") or {}).get(deployed_model, {})
    todo = [i for i in range(_sample_count(doc)) if str(i) not in done]
    if not todo:
        return True
    what = "video generation" if d.kind in ("i2v", "kf2v") else "image generation"
    print(
        f"{d.effect}: --golden renders {len(todo)} validation sample(s) with {deployed_model}: "
        f"{len(todo)} {what}(s), billed by Model Studio per "
        + ("second of video" if what.startswith("video") else "image")
        + " (the price is not in wanbuild's references)",
        file=out,
    )
    if not yes and not confirm(out, "Render them?", "this is billed"):
        print("Nothing rendered.", file=out)
        return False
    for i in todo:
        entry: dict[str, Any] = next(
            (c["samples"][str(i)] for c in doc["checkpoints"].values() if str(i) in c["samples"]),
            {},
        )
        first = entry.get("first_frame")
        prompt = str(entry.get("prompt") or "")
        url = jpeg_data_url(archive.path(first), 1024) if first else None
        if d.kind == "i2v" and url:
            task = item.client.submit_video(deployed_model, url)
        elif d.kind == "kf2v" and url:
            task = item.client.submit_kf2v(deployed_model, url)
        else:
            task = item.client.submit_image(deployed_model, prompt, image_url=url)
        result = wait_task(item.client, task, poll, "run review again later")
        if result.task_status != "SUCCEEDED" or not (result.video_url or result.image_url):
            print(f"  sample {i + 1}: task {task} {result.task_status}: {result.message}", file=out)
            continue
        data = item.client.download(str(result.video_url or result.image_url))
        blob = archive.keep(data, ".mp4" if result.video_url else ".png")
        archive.record_golden(job_id, deployed_model, i, blob)
        print(f"  sample {i + 1}: rendered by {deployed_model}", file=out)
    return True
