"""Lint: steps against the documented floor, checkpoints, and the deployment."""

from __future__ import annotations

from collections.abc import Iterator

from wanbuild.core.findings import Finding

# Sample ids become zip entry names; without limits (a model not offered in the region) the
from wanbuild.core.lint.base import (
    LintInput,
)
from wanbuild.core.steps import min_epochs_for, schedule, split_sizes
from wanbuild.spec.kinds import is_video_kind


def _steps(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    hp = e.hyper_parameters
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), hp)
    if e.samples.train and sizes.train < 1:
        yield Finding(
            "error",
            inp.samples_file,
            "train",
            f"the auto split takes {sizes.validation} of {sizes.total} samples for validation "
            "and leaves none to train on",
            "add samples, or list explicit validation entries",
        )
        return
    try:
        sched = schedule(is_video_kind(e.kind), sizes, hp)
    except (TypeError, ValueError):
        return  # wrong types are reported by the schema check
    floor = e.model.min_total_steps
    split_text = (
        f"auto split: {sizes.train} train + {sizes.validation} validation of {sizes.total}"
        if sizes.auto_split
        else f"{sizes.train} train, {sizes.validation} validation"
    )
    if sched.total_steps < floor:
        if is_video_kind(e.kind) and sched.steps_per_epoch:
            need = min_epochs_for(floor, sched.steps_per_epoch)
            math_text = (
                f"{hp.get('n_epochs')} epochs x ceil({sizes.train}/{hp.get('batch_size')}) "
                f"= {sched.total_steps} steps"
            )
            fix = f"set hyper_parameters.n_epochs to at least {need}, or add samples"
            key = "hyper_parameters.n_epochs"
        else:
            math_text = f"max_steps = {sched.total_steps}"
            fix = f"set hyper_parameters.max_steps to at least {floor}"
            key = "hyper_parameters.max_steps"
        required = e.model.min_total_steps_required
        yield Finding(
            "error" if required else "warning",
            inp.effect_file,
            key,
            f"{math_text} ({split_text}), below the "
            f"{'required minimum' if required else 'recommended floor'} of {floor}",
            fix,
        )


def _deploy(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    d = e.deploy
    if d.capacity != 1:
        yield Finding(
            "warning",
            inp.effect_file,
            "deploy.capacity",
            f"{d.capacity}: LoRA deployments ignore capacity (the guides say set it to 1)",
            "set capacity: 1",
        )
    if d.checkpoint is None:
        return
    number = int(d.checkpoint.removeprefix("checkpoint-"))
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), e.hyper_parameters)
    try:
        sched = schedule(is_video_kind(e.kind), sizes, e.hyper_parameters)
    except (TypeError, ValueError):
        return
    unit = "epoch" if is_video_kind(e.kind) else "step"
    if number not in sched.checkpoints:
        shown = ", ".join(f"checkpoint-{c}" for c in sched.checkpoints[-6:])
        yield Finding(
            "error",
            inp.effect_file,
            "deploy.checkpoint",
            f"{d.checkpoint} will not exist: checkpoints are saved every "
            f"{e.hyper_parameters.get('eval_epochs' if unit == 'epoch' else 'eval_steps')} {unit}s",
            f"pick one that will, e.g. {shown}",
        )
    elif number not in sched.kept_checkpoints:
        yield Finding(
            "error",
            inp.effect_file,
            "deploy.checkpoint",
            f"{d.checkpoint} is deleted during training: only the last "
            f"{e.hyper_parameters.get('save_total_limit')} checkpoints are kept",
            "raise hyper_parameters.save_total_limit or pin a later checkpoint",
        )
