"""Keep a job's checkpoint previews before their URLs expire (they are valid 24 h).

Every command that sees a succeeded job (apply, status, checkpoints, review) calls `keep`: each
checkpoint's validation details are listed, and each preview not archived yet is downloaded
once with the sample's first frame and prompt. A run that stops half way resumes where it
stopped; nothing is downloaded twice. A URL that has expired is recorded as such and said,
naming the checkpoint: nothing can bring it back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlparse

from wanbuild.remote.errors import PermanentRemoteError, TemporaryRemoteError
from wanbuild.remote.service import Service
from wanbuild.store.previews import PreviewArchive

PAGE = 100
IN_FLIGHT = 8  # listings and downloads of one job at once
# ... and of all the jobs of a run: hundreds of effects finishing together share this many
# connections, as their uploads share UPLOADS_IN_FLIGHT, instead of thousands of threads
# contending for the service (and for the embedded emulator's one process)
_RUN_IN_FLIGHT = threading.BoundedSemaphore(48)


@dataclass
class Kept:
    new: int = 0
    expired: list[str] = field(default_factory=list)  # "checkpoint-N sample i"


def keep(
    client: Service,
    job_id: str,
    archive: PreviewArchive,
    say: Callable[[str], None],
    *,
    effect: str | None = None,
) -> Kept:
    """Archive the previews of `job_id`, a job that has succeeded (its checkpoints are
    final: once each is kept or known lost, the job is settled and never listed again)."""
    kept = Kept()
    if archive.settled(job_id):
        return kept  # every checkpoint of the finished job is kept (or known lost): no call
    checkpoints = client.validation_results(job_id)
    todo = [ck for ck in checkpoints if not archive.is_complete(job_id, ck)]
    # the listings, then every download, a few at a time: each is a round trip
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        listed = dict(zip(todo, pool.map(lambda ck: _rows(client, job_id, ck), todo), strict=True))
        wanted = [
            (ck, i, row)
            for ck in todo
            for i, row in enumerate(listed[ck])
            if archive.sample(job_id, ck, i) is None
        ]
        # a sample's first frame is the same picture at every checkpoint: fetched once
        firsts = {str(r["first_frame_path"]) for _, _, r in wanted if r.get("first_frame_path")}
        first_blobs = dict(
            zip(firsts, pool.map(lambda u: _download(client, u, archive), firsts), strict=True)
        )
        got = list(pool.map(lambda w: _fetch(client, w[2], archive, first_blobs), wanted))
    for (checkpoint, i, row), (preview, first) in zip(wanted, got, strict=True):
        entry: dict[str, object] = {"prompt": row.get("prompt")}
        if first:
            entry["first_frame"] = first
        if preview is None:
            entry["preview"] = "expired"
            kept.expired.append(f"{checkpoint} sample {i + 1}")
        else:
            entry["preview"] = preview
            kept.new += 1
        archive.record(job_id, checkpoint, i, entry, effect=effect)
    for checkpoint in todo:
        archive.complete(job_id, checkpoint, len(listed[checkpoint]))
    if checkpoints:
        archive.settle(job_id)
    if kept.expired:
        say(
            f"{len(kept.expired)} preview(s) of job {job_id} had expired before wanbuild saw "
            f"them (preview URLs are valid 24 h), so they cannot be kept: "
            + ", ".join(kept.expired)
        )
    if kept.new:
        say(f"kept {kept.new} preview(s) of job {job_id} in {archive.root}")
    return kept


def _rows(client: Service, job_id: str, checkpoint: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    page_no = 1
    while True:
        with _RUN_IN_FLIGHT:
            out = client.validation_details(job_id, checkpoint, page_no=page_no, page_size=PAGE)
        got = list(out.get("list") or [])
        rows += got
        total = int(out.get("total") or len(rows))
        if not got or len(rows) >= total:
            return rows
        page_no += 1


def _fetch(
    client: Service, row: dict[str, object], archive: PreviewArchive, firsts: dict[str, str | None]
) -> tuple[str | None, str | None]:
    """(the preview's blob, or None when it has expired; the first frame's blob)."""
    url = str(row.get("video_path") or row.get("image_path") or "")
    first = row.get("first_frame_path")
    return (_download(client, url, archive) if url else None, firsts.get(str(first)))


def _download(client: Service, url: str, archive: PreviewArchive) -> str | None:
    """The blob the URL's bytes were kept as; None when it has expired (403/404)."""
    try:
        with _RUN_IN_FLIGHT:
            data = client.download(url)
    except PermanentRemoteError:
        return None
    except TemporaryRemoteError:
        raise
    ext = PurePosixPath(urlparse(url).path).suffix.lower() or ".bin"
    return archive.keep(data, ext)
