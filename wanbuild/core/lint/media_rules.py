"""Lint: media against the model's limits, first frames, max_pixels, totals."""

from __future__ import annotations

from collections.abc import Iterator

from wanbuild.core import prompts
from wanbuild.core.findings import Finding
from wanbuild.core.fitting import fit_media

# Sample ids become zip entry names; without limits (a model not offered in the region) the
from wanbuild.core.lint.base import (
    LintInput,
    _all_samples,
    _where,
)
from wanbuild.spec.kinds import MEDIA_KEYS, is_video_kind
from wanbuild.spec.media import MediaFacts, MediaProblem


def _media(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    users: dict[str, str] = {}
    for split, i, s in _all_samples(e):
        for key in MEDIA_KEYS:
            rel = getattr(s, key)
            probe = inp.probes.get((split, i, key))
            if rel is None or probe is None:
                continue
            where = _where(split, i, s, key)
            if isinstance(probe, MediaProblem):
                yield Finding(
                    "error", inp.samples_file, where, f"{rel}: {probe.detail}", _problem_fix(probe)
                )
                continue
            other = users.get(rel)
            if other and split == "train":
                yield Finding(
                    "warning",
                    inp.samples_file,
                    where,
                    f"{rel} is also used by {other}",
                    "use distinct media per sample",
                )
            users.setdefault(rel, where)
            if limits is not None:
                cut = s.last_frame is None  # cut from the clip as trimmed: it still matches
                yield from _media_limits(inp, where, rel, probe, last_frame_cut=cut)


def _media_limits(
    inp: LintInput, where: str, rel: str, m: MediaFacts, *, last_frame_cut: bool = False
) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    assert limits is not None
    f = inp.samples_file
    ctx = f"{e.model.name} in {e.region.name}"
    fit = fit_media(m, limits.image, limits.video)
    if fit is None:
        yield Finding("error", f, where, f"{rel}: {ctx} takes no videos", "remove it")
        return
    if fit.needed:
        if inp.strict:
            yield Finding(
                "error",
                f,
                where,
                f"{rel}: outside the limits of {ctx}: {fit.describe()}",
                "fit it yourself, or build without --strict to let wanbuild fit it",
            )
        else:
            yield Finding(
                "warning",
                f,
                where,
                f"{rel}: build fits it to {ctx}: {fit.describe()}",
                "fine as is; fit it yourself to control the result",
            )
    if fit.trim_to_s is not None and e.kind == "kf2v" and not last_frame_cut:
        yield Finding(
            "error",
            f,
            where,
            f"{rel}: trimming to {fit.trim_to_s:g} s would cut the frames its last_frame shows",
            f"cut the clip yourself to {fit.trim_to_s:g} s so it ends on its last frame",
        )
    il = limits.image
    side = max(fit.width, fit.height)
    if m.type == "image" and il.recommended_max_side and side > il.recommended_max_side:
        yield Finding(
            "warning",
            f,
            where,
            f"{rel}: {fit.width}x{fit.height}; the guide suggests at most "
            f"{il.recommended_max_side} per side (larger images train slower)",
            f"downscale it to {il.recommended_max_side} or less",
        )


def _max_pixels(inp: LintInput) -> Iterator[Finding]:
    """One summary, not one line per clip: the service downscales videos above max_pixels."""
    max_pixels = inp.effect.hyper_parameters.get("max_pixels")
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool):
        return
    limits = inp.effect.limits
    sizes = []  # as built: after wanbuild's own fitting
    for p in inp.probes.values():
        if isinstance(p, MediaFacts) and p.type == "video":
            fit = fit_media(p, limits.image, limits.video) if limits else None
            sizes.append((fit.width, fit.height) if fit else (p.width, p.height))
    over = [(w, h) for w, h in sizes if w * h > max_pixels]
    if over:
        w, h = max(over, key=lambda wh: wh[0] * wh[1])
        yield Finding(
            "warning",
            inp.samples_file,
            "train",
            f"{len(over)} video(s) exceed max_pixels {max_pixels} as built "
            f"(largest {w}x{h}); the service downscales them for training",
            "fine as is; or raise hyper_parameters.max_pixels within the model's range",
        )


# Mean absolute difference of two 16x16 grey thumbnails (0-255) above which a first frame and
# its clip's frame 0 are taken to be different pictures; compression alone stays far below.
FIRST_FRAME_DIFFERENCE = 20


def _first_frames(inp: LintInput) -> Iterator[Finding]:
    """The guides' pairs: a sample's first_frame is the picture its video starts from."""
    e = inp.effect
    if not is_video_kind(e.kind):
        return
    for i, s in enumerate(e.samples.train):
        image = inp.probes.get(("train", i, "first_frame"))
        video = inp.probes.get(("train", i, "video"))
        if not (isinstance(image, MediaFacts) and isinstance(video, MediaFacts)):
            continue
        where = _where("train", i, s, "first_frame")
        if image.signature and video.signature:
            diff = sum(abs(a - b) for a, b in zip(image.signature, video.signature, strict=True))
            diff //= len(image.signature)
            if diff > FIRST_FRAME_DIFFERENCE:
                yield Finding(
                    "warning",
                    inp.samples_file,
                    where,
                    f"{s.first_frame} does not look like the first frame of {s.video} "
                    f"(mean difference {diff}/255)",
                    "check the pairing: the model learns to continue the given picture",
                )
                continue
        yield from _same_aspect(inp, where, s.first_frame, image, s.video, video, "first")


def _last_frames(inp: LintInput) -> Iterator[Finding]:
    """kf2v: a sample's last_frame is the picture its clip ends on, in the clip's aspect."""
    for i, s in enumerate(inp.effect.samples.train):
        image = inp.probes.get(("train", i, "last_frame"))
        video = inp.probes.get(("train", i, "video"))
        if isinstance(image, MediaFacts) and isinstance(video, MediaFacts):
            where = _where("train", i, s, "last_frame")
            yield from _same_aspect(inp, where, s.last_frame, image, s.video, video, "last")


def _same_aspect(
    inp: LintInput,
    where: str,
    picture: str | None,
    image: MediaFacts,
    clip: str | None,
    video: MediaFacts,
    which: str,
) -> Iterator[Finding]:
    image_ratio, video_ratio = image.width / image.height, video.width / video.height
    if abs(image_ratio - video_ratio) > 0.05 * video_ratio:
        yield Finding(
            "warning",
            inp.samples_file,
            where,
            f"{picture} is {image.width}x{image.height} but {clip} is "
            f"{video.width}x{video.height}: a different aspect ratio",
            f"use the clip's own {which} frame",
        )


def _problem_fix(p: MediaProblem) -> str:
    return {
        "missing": "fix the path, or add the file (dvc pull / dvc repro if it is DVC-tracked)",
        "traversal": "move the file into the effect directory and point at it from there",
        "absolute": "use a path relative to the effect directory, e.g. media/x.jpg",
        "escapes": "copy the file into the effect directory instead of linking outside it",
        "not_file": "point at a file",
        "unreadable": "re-export the file; it cannot be opened",
        "wrong_type": "point this key at the right kind of file",
    }[p.code]


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


def _totals(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    if limits is None:
        return
    facts = [p for p in inp.probes.values() if isinstance(p, MediaFacts)]
    images = sum(1 for p in facts if p.type == "image")
    videos = sum(1 for p in facts if p.type == "video")
    for count, cap, what in (
        (images, limits.max_images, "images"),
        (videos, limits.max_videos, "videos"),
    ):
        if cap is not None and count > cap:
            yield Finding(
                "error",
                inp.samples_file,
                "train",
                f"{count} {what}; {e.model.name} in {e.region.name} takes at most {cap}",
                f"remove {count - cap} {what}",
            )
    for split in ("train", "validation"):
        size = sum(
            p.bytes
            for (sp, _, _), p in inp.probes.items()
            if sp == split and isinstance(p, MediaFacts)
        )
        if size > limits.max_zip_bytes:
            yield Finding(
                "error",
                inp.samples_file,
                split,
                f"the {split} zip would hold {_mb(size)} of media, over the "
                f"{_mb(limits.max_zip_bytes)} upload limit",
                "use fewer or smaller media files",
            )
    try:
        compiled = prompts.compile_effect(e)
    except prompts.TemplateError:
        return
    jsonl = sum(len(p.prompt.encode()) + 200 for p in compiled.train)
    if jsonl > limits.max_jsonl_bytes:
        yield Finding(
            "error",
            inp.samples_file,
            "train",
            f"data.jsonl would be about {_mb(jsonl)}, over {_mb(limits.max_jsonl_bytes)}",
            "shorten the captions or split the effect",
        )
