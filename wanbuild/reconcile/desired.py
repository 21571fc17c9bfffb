"""The desired state of an effect: its dataset built (wanbuild.builder), fingerprints computed,
prompts compiled into the deployment's aigc_config."""

from __future__ import annotations

import math
from collections.abc import Callable

from wanbuild.builder import build_effect
from wanbuild.config.load import LoadedEffect, display
from wanbuild.core import fingerprint as fp
from wanbuild.core.prompts import compile_effect
from wanbuild.core.steps import schedule, split_sizes
from wanbuild.spec.kinds import is_video_kind
from wanbuild.spec.state import Desired, DesiredZip
from wanbuild.store import Store

# Image guide: 2K training, 300 steps in ~77 min (t2i) and ~110 min (i2i).
_IMAGE_MINUTES_PER_STEP = {"t2i": 77 / 300, "i2i": 110 / 300}


def target_of(loaded: LoadedEffect) -> str:
    return f"{loaded.effect.backend.name}/{loaded.effect.region.name}"


def desired_state(
    loaded: LoadedEffect, store: Store, report: Callable[[str], None] = lambda _l: None
) -> Desired:
    e = loaded.effect
    built = build_effect(loaded, store, report=report)
    hp = dict(e.hyper_parameters)
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), hp)
    video = is_video_kind(e.kind)
    sched = schedule(video, sizes, hp)
    if video:
        steps_text = (
            f"{sched.total_steps} steps = {hp.get('n_epochs')} epochs x "
            f"ceil({sizes.train}/{hp.get('batch_size')})"
        )
    else:
        steps_text = f"{sched.total_steps} steps"
    job_fp = fp.job_fingerprint(
        model=e.model.name,
        training_type=e.model.training_type,
        kind=e.kind,
        dataset_fp=built.fingerprint,
        hyper_parameters=hp,
    )
    compiled = compile_effect(e)
    aigc = compiled.aigc_config.model_dump() if compiled.aigc_config else None
    deploy_fp = fp.deploy_fingerprint(
        job_fp=job_fp, checkpoint=e.deploy.checkpoint, aigc_config=aigc
    )
    zips = tuple(
        DesiredZip(
            split,
            display(path),
            sha,
            size,
            fp.upload_name(e.name, split, built.fingerprint),
            fp.upload_description(e.name, split, built.fingerprint),
        )
        for split, (path, sha, size, _n) in sorted(
            built.zips.items(), key=lambda kv: kv[0] != "train"
        )
    )
    tokens = cost = hours = None
    if not video and e.model.tokens_per_step:
        per_step = e.model.tokens_per_step.get(str(hp.get("max_pixels")))
        if per_step:
            tokens = per_step * sched.total_steps
            if e.model.price_cny_per_1k_tokens:
                cost = tokens / 1000 * e.model.price_cny_per_1k_tokens
        hours = sched.total_steps * _IMAGE_MINUTES_PER_STEP[e.kind] / 60
    return Desired(
        effect=e.name,
        target=target_of(loaded),
        kind=e.kind,
        model=e.model.name,
        region=e.region.name,
        upload_api=e.region.upload_api,
        dataset_fp=built.fingerprint,
        zips=zips,
        training_type=e.model.training_type,
        hyper_parameters=hp,
        job_fp=job_fp,
        job_name=fp.job_name(e.name, job_fp),
        total_steps=sched.total_steps,
        steps_text=steps_text,
        checkpoint=e.deploy.checkpoint,
        capacity=e.deploy.capacity,
        aigc_config=aigc,
        deploy_fp=deploy_fp,
        tokens_estimate=tokens,
        cost_estimate_cny=cost,
        hours_estimate=None if hours is None else math.ceil(hours * 10) / 10,
        fitted=tuple(f"{src}: {change}" for src, change in built.fitted),
    )
