"""Deployments of fine-tuned models (plan "lora", with aigc_config for video)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wanbuild.emulator import rules, timeline
from wanbuild.emulator.http import (
    ApiError,
    Emulator,
    emulator,
    listing,
    ok,
    page_body,
    read_json,
)

_SUFFIX = re.compile(r"^[a-z0-9]{1,8}$")
_EXPORTED = re.compile(r"^(.*)-c\d+$")


def _deployable(emu: Emulator, region: str, name: str, now: float) -> dict[str, Any] | None:
    """The job whose model (or exported checkpoint, `<model>-c<n>`) is `name`, ready."""
    outputs = [name]
    exported = _EXPORTED.match(name)
    if exported:
        outputs.append(exported.group(1))
    jobs = [j for o in outputs for j in emu.store.find("job", region, "finetuned_output", o)]
    for job in jobs:
        if job.get("deleted"):
            continue
        if (
            job["finetuned_output"] == name
            and timeline.job_state(job, now)["status"] == "SUCCEEDED"
        ):
            return job
        for ckpt, export in job.get("exports", {}).items():
            number = ckpt.removeprefix("checkpoint-")
            if (
                f"{job['finetuned_output']}-c{number}" == name
                and timeline.export_state(export, now) == "SUCCEEDED"
            ):
                return job
    return None


def _deployment_view(emu: Emulator, dep: dict[str, Any], now: float) -> dict[str, Any]:
    status = timeline.deployment_state(dep, now)
    modified = max(
        t for t in (dep["created"], dep.get("scale_at"), dep.get("delete_at")) if t is not None
    )
    view = {
        "deployed_model": dep["deployed_model"],
        "gmt_create": timeline.iso(dep["created"]),
        "gmt_modified": timeline.iso(modified),
        "status": status,
        "model_name": dep["model_name"],
        "base_model": dep["base_model"],
        "workspace_id": "llm-emulator",
        "charge_type": "post_paid",
        "creator": "1000000000",
        "modifier": "1000000000",
        "plan": dep["plan"],
    }
    if emu.profile.deployment_echoes_config:
        view["capacity"] = dep["capacity"]
        view["base_capacity"] = 1
        view["ready_capacity"] = dep["capacity"] if status == "RUNNING" else 0
        if dep.get("aigc_config") is not None:
            view["aigc_config"] = dep["aigc_config"]
    return view


def live_deployment(emu: Emulator, region: str, name: str, now: float) -> dict[str, Any] | None:
    dep = emu.store.get("deployment", name, region)
    if dep is None or timeline.deployment_state(dep, now) == "DELETED":
        return None
    return dep


async def create_deployment(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    body = await read_json(request)
    now = emu.clock()
    name = str(body.get("model_name") or "")
    capacity = body.get("capacity")
    if not name:
        raise ApiError(400, "InvalidParameter", "model_name is required.")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Invalid capacity ({capacity}), capacity must be larger than or equal to 0 "
            "and multiples of 1 and less than 1000!",
        )
    job = _deployable(emu, region, name, now)
    if job is None:
        raise ApiError(404, "NotFound", f"Model: {name} not found!")
    strict = emu.profile.strict_deployments
    aigc = body.get("aigc_config")
    if strict:
        _require_lora_fields(body, video=rules.is_video(job["kind"]))
    if aigc is not None and not (
        isinstance(aigc, dict)
        and isinstance(aigc.get("prompt"), str)
        and isinstance(aigc.get("lora_prompt_default"), str)
    ):
        raise ApiError(
            400,
            "InvalidParameter",
            "aigc_config needs use_input_prompt, prompt and lora_prompt_default.",
        )
    suffix = body.get("suffix")
    if strict:
        deployed = _strict_name(emu, region, name, job["model"], suffix, now)
    else:
        deployed = f"{name}-{suffix}" if suffix else name
        if live_deployment(emu, region, deployed, now) is not None:
            raise ApiError(
                409,
                "Conflict",
                f"Deployed model {deployed} already exists, please specify a suffix.",
                retry=False,
            )
    dep = {
        "deployed_model": deployed,
        "model_name": name,
        "base_model": job["model"],
        "plan": body.get("plan") or "lora",
        "capacity": capacity,
        "aigc_config": aigc,
        "created": now,
        "fail": emu.faults.fail_deploy,
        "kind": job["kind"],
        "suffix": suffix,
    }
    emu.store.put("deployment", deployed, region, dep)
    return ok(_deployment_view(emu, dep, now))


def _require_lora_fields(body: dict[str, Any], *, video: bool) -> None:
    """The video reference lists plan and aigc_config as required for a LoRA deployment."""
    if body.get("plan") != "lora":
        raise ApiError(400, "InvalidParameter", "plan is required and must be lora.")
    if video and not isinstance(body.get("aigc_config"), dict):
        raise ApiError(400, "InvalidParameter", "aigc_config is required for video models.")
    aigc = body.get("aigc_config") or {}
    if video and not isinstance(aigc.get("use_input_prompt"), bool):
        raise ApiError(400, "InvalidParameter", "aigc_config.use_input_prompt is required.")


def _strict_name(
    emu: Emulator, region: str, model_name: str, base_model: str, suffix: Any, now: float
) -> str:
    """documented-minimum: a suffix is at most 8 characters and used once ever; without one,
    a model deploys once; the name returned is the service's own, unrelated to model_name."""
    if suffix is not None:
        if not isinstance(suffix, str) or not _SUFFIX.match(suffix):
            raise ApiError(
                400,
                "InvalidParameter",
                f"Invalid suffix {suffix!r}: at most 8 lower-case letters or digits.",
            )
        if emu.store.get("suffix", suffix, region) is not None:
            raise ApiError(409, "Conflict", f"The suffix {suffix} is already used.", retry=False)
        emu.store.put("suffix", suffix, region, {"created": now})
    else:
        for other in emu.store.all("deployment", region):
            if (
                other["model_name"] == model_name
                and not other.get("suffix")
                and timeline.deployment_state(other, now) != "DELETED"
            ):
                raise ApiError(
                    409,
                    "Conflict",
                    f"Deployed model {model_name} already exists, please specify a suffix.",
                    retry=False,
                )
    return f"{base_model}-{secrets.token_hex(6)}"


def _deployment(emu: Emulator, request: Request, now: float) -> dict[str, Any]:
    name = request.path_params["name"]
    dep = live_deployment(emu, emu.region(request), name, now)
    if dep is None:
        raise ApiError(404, "NotFound", "Not found.")
    return dep


async def get_deployment(request: Request) -> Response:
    emu = emulator(request)
    now = emu.clock()
    return ok(_deployment_view(emu, _deployment(emu, request, now), now))


async def list_deployments(request: Request) -> Response:
    emu = emulator(request)
    now = emu.clock()
    page_no, size, total, docs = listing(emu, request, "deployment", 50, 200, now=now)
    views = [_deployment_view(emu, d, now) for d in docs]
    return ok(page_body(page_no, size, total, "deployments", views))


async def scale_deployment(request: Request) -> Response:
    emu = emulator(request)
    now = emu.clock()
    dep = _deployment(emu, request, now)
    body = await read_json(request)
    capacity = body.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
        raise ApiError(400, "InvalidParameter", f"Invalid capacity ({capacity}).")
    if dep["plan"] == "lora" and not emu.profile.scales_lora:
        raise ApiError(
            400, "UnsupportedOperation", "Capacity cannot be changed for plan=lora deployments."
        )
    status = timeline.deployment_state(dep, now)
    if status != "RUNNING":
        raise ApiError(400, "UnsupportedOperation", f"The deployment is {status}.")
    dep.update(capacity=capacity, scale_at=now)
    emu.store.put("deployment", dep["deployed_model"], emu.region(request), dep)
    return ok(_deployment_view(emu, dep, now))


async def delete_deployment(request: Request) -> Response:
    emu = emulator(request)
    now = emu.clock()
    dep = _deployment(emu, request, now)
    if dep.get("delete_at") is None:
        dep["delete_at"] = now
        emu.store.put("deployment", dep["deployed_model"], emu.region(request), dep)
    return ok(_deployment_view(emu, dep, now))
