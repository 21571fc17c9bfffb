"""How helpful the emulated service is where the documentation leaves room.

`typical` behaves as the documentation's examples do: names that are sent come back, ids are
echoed, a deployment is named `{model}-{suffix}`. `documented-minimum` takes the least helpful
reading that the documentation allows at every such point (docs/emulator.md cites each one), so
that a guarantee proven under it does not rest on anything the vendor never promised.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    keeps_names: bool  # job_name, model_name and suffix shape the names the service returns
    echoes_file_ids: bool  # jobs list their training/validation file ids
    echoes_max_pixels: bool  # hyper_parameters come back with max_pixels
    output_before_success: bool  # finetuned_output is in the job from its creation on
    deployment_echoes_config: bool  # deployments show aigc_config and capacity
    list_lag_s: float  # simulated seconds before a new object appears in list calls
    strict_deployments: bool  # aigc_config + plan required (video), suffix <= 8 chars, kept
    scales_lora: bool  # PUT .../scale accepted for plan=lora deployments
    enforces_step_rules: bool  # 800-step minimum and eval_epochs >= n_epochs/10 at create
    # preview URLs are valid 24 h "from generation" (the checkpoint's), not from the listing
    previews_expire_from_checkpoint: bool = False


TYPICAL = Profile(
    name="typical",
    keeps_names=True,
    echoes_file_ids=True,
    echoes_max_pixels=True,
    output_before_success=True,
    deployment_echoes_config=True,
    list_lag_s=0.0,
    strict_deployments=False,
    scales_lora=True,
    enforces_step_rules=False,
)
DOCUMENTED_MINIMUM = Profile(
    name="documented-minimum",
    keeps_names=False,
    echoes_file_ids=False,
    echoes_max_pixels=False,
    output_before_success=False,
    deployment_echoes_config=False,
    list_lag_s=120.0,
    strict_deployments=True,
    scales_lora=False,
    enforces_step_rules=True,
    previews_expire_from_checkpoint=True,
)
PROFILES = {p.name: p for p in (TYPICAL, DOCUMENTED_MINIMUM)}


def profile_named(name: str | None) -> Profile:
    try:
        return PROFILES[name or TYPICAL.name]
    except KeyError:
        raise ValueError(
            f"unknown emulator profile {name!r} (known: {', '.join(PROFILES)})"
        ) from None
