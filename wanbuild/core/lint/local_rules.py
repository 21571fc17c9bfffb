"""Lint: which backend trains which model, and the local models' frame and size rules, so
that a local dataset is checked before any GPU time."""

from __future__ import annotations

import math
from collections.abc import Iterator

from wanbuild.core.findings import Finding
from wanbuild.core.lint.base import LintInput, _all_samples, _where
from wanbuild.spec.media import MediaFacts


def _backend(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    local_model = e.model.local is not None
    if e.backend.name == "local" and not local_model:
        yield Finding(
            "error",
            inp.effect_file,
            "backend",
            f"{e.model.name} is a hosted model (Model Studio); backend=local trains the "
            "open-weights models only",
            "pick a local model (e.g. `override model: wan2.2-t2v-a14b`) or "
            "backend=dashscope / backend=emulator",
        )
    elif e.backend.name != "local" and local_model:
        hosted = (
            "Model Studio does not fine-tune text-to-video"
            if e.kind == "t2v"
            else ("Model Studio does not fine-tune the open-weights checkpoints")
        )
        yield Finding(
            "error",
            inp.effect_file,
            "backend",
            f"{e.model.name} trains on this machine: {hosted}",
            "apply it with backend=local (and region=local)",
        )
    elif local_model and not e.model.weights:
        yield Finding(
            "error",
            inp.effect_file,
            "model.weights",
            f"not set: {e.model.name} trains from its open weights in the diffusers layout, "
            "read from a directory on this machine (never downloaded)",
            "set model.weights in effect.yaml or on the command line "
            "(model.weights=/data/Wan2.2-T2V-A14B-Diffusers)",
        )
    elif local_model and e.model.local is not None and not e.model.local.trains:
        yield Finding(
            "error",
            inp.effect_file,
            "model",
            f"{e.model.name} is in the catalog, but the local trainer trains text-to-video "
            "models only so far",
            "use wan2.2-t2v-a14b, wan2.1-t2v-1.3b or wan2.2-ti2v-5b, or train it hosted",
        )


def _local_frames(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    facts = e.model.local
    if facts is None or e.backend.name != "local":
        return
    hp = e.hyper_parameters
    frames, width, height = hp.get("num_frames"), hp.get("width"), hp.get("height")
    step = facts.frame_step
    if isinstance(frames, int) and frames % step != 1 % step:
        below = (frames - 1) // step * step + 1
        yield Finding(
            "error",
            inp.effect_file,
            "hyper_parameters.num_frames",
            f"{frames} frames: {e.model.name} takes {step}k+1 frames (its VAE compresses "
            f"time {step}x)",
            f"use {below} or {below + step}",
        )
    processes, batch = e.backend.num_processes or 1, hp.get("batch_size")
    if isinstance(batch, int) and batch % processes:
        yield Finding(
            "error",
            inp.effect_file,
            "hyper_parameters.batch_size",
            f"{batch}: a step's batch is shared by backend.num_processes={processes} "
            "processes, so it must divide evenly",
            f"use a batch_size that is a multiple of {processes}, or fewer processes",
        )
    m = facts.spatial_multiple
    for key, value in (("width", width), ("height", height)):
        if isinstance(value, int) and value % m:
            yield Finding(
                "error",
                inp.effect_file,
                f"hyper_parameters.{key}",
                f"{value}: {e.model.name} takes sizes in multiples of {m}",
                f"use {value // m * m or m} or {(value // m + 1) * m}",
            )
    if not isinstance(frames, int) or frames < 1:
        return
    needed = frames / facts.fps
    for split, i, s in _all_samples(e):
        probe = inp.probes.get((split, i, "video"))
        if s.video is None or not isinstance(probe, MediaFacts) or probe.duration_s is None:
            continue
        # frames the clip shows at the model's rate (a container's duration may round the
        # last frame's down by a tick: 9 frames at 16 fps can read 0.56201 s)
        shown = math.ceil(probe.duration_s * facts.fps - 1e-3)
        if shown < frames:
            most = (shown - 1) // step * step + 1
            yield Finding(
                "error",
                inp.samples_file,
                _where(split, i, s, "video"),
                f"{probe.duration_s:.2f} s: training reads {frames} frames at "
                f"{facts.fps:g} fps ({needed:.2f} s) from each clip; this one shows {shown}",
                f"use a clip of at least {needed:.2f} s"
                + (f", or set hyper_parameters.num_frames to at most {most}" if most > 0 else ""),
            )
            continue
        if shown > frames:
            yield Finding(
                "warning",
                inp.samples_file,
                _where(split, i, s, "video"),
                f"{probe.duration_s:.2f} s: trained on its first {needed:.2f} s "
                f"({frames} frames at {facts.fps:g} fps); the rest is not read",
                "trim the clip to the part that shows the effect, or raise num_frames",
            )
        if probe.fps and abs(probe.fps - facts.fps) > 0.01:
            how = "some shown twice" if probe.fps < facts.fps else "some skipped"
            yield Finding(
                "warning",
                inp.samples_file,
                _where(split, i, s, "video"),
                f"shot at {probe.fps:g} fps: read at {facts.fps:g} fps by time (its speed "
                f"is kept; frames are picked, {how})",
                f"export it at {facts.fps:g} fps to train on every frame",
            )
