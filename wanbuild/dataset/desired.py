"""The desired state of an effect: its dataset built (dataset.builder), fingerprints computed,
prompts compiled into the deployment's aigc_config."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from wanbuild.config.load import LoadedEffect, display
from wanbuild.core import fingerprint as fp
from wanbuild.core.estimate import estimate
from wanbuild.core.prompts import compile_effect
from wanbuild.core.target import target_spec
from wanbuild.dataset.builder import Built, build_effect
from wanbuild.spec.state import Desired, DesiredZip
from wanbuild.store import Store


def desired_state(
    loaded: LoadedEffect,
    store: Store,
    report: Callable[[str], None] = lambda _l: None,
    *,
    write: bool = True,
) -> Desired:
    """The effect's desired state; `write=False` (plan) computes it without writing zips."""
    return desired_from(loaded, build_effect(loaded, store, report=report, write=write))


def desired_from(loaded: LoadedEffect, built: Built) -> Desired:
    """The desired state of an effect whose dataset is `built`."""
    e = loaded.effect
    hp = dict(e.hyper_parameters)
    spec = target_spec(e)
    est = estimate(e)
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
    return Desired(
        **dataclasses.asdict(spec),  # effect, target, kind, model, region, upload_api, ...
        dataset_fp=built.fingerprint,
        zips=zips,
        training_type=e.model.training_type,
        hyper_parameters=hp,
        job_fp=job_fp,
        job_name=fp.job_name(e.name, job_fp),
        capacity=e.deploy.capacity,
        aigc_config=aigc,
        deploy_fp=deploy_fp,
        tokens_estimate=est.tokens,
        cost_estimate_cny=est.cost_cny,
        hours_estimate=est.hours,
        fitted=tuple(f"{src}: {change}" for src, change in built.fitted),
        built=built.written,
        deploy_estimate=est.deploy_text,
        built_with=built.built_with,
    )
