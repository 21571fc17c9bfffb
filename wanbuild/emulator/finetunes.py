"""Fine-tune jobs: create (with the service's checks), get, list, cancel, delete, logs,
checkpoints, export, validation results and details."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wanbuild.config.catalog import CatalogModel
from wanbuild.emulator import rules, timeline
from wanbuild.emulator.datacheck import check_zip
from wanbuild.emulator.http import (
    ApiError,
    Emulator,
    emulator,
    listing,
    ok,
    page,
    page_body,
    read_json,
)


def _model(emu: Emulator, name: str, region: str) -> CatalogModel:
    model = emu.catalog.models.get(name)
    if model is None or region not in model.spec.regions:
        raise ApiError(
            400, "InvalidParameter", f"The model {name} does not support fine-tuning in {region}."
        )
    return model


def _kind(model: CatalogModel, hp: dict[str, Any]) -> str:
    spec = model.spec
    if spec.kind_parameter and hp.get(spec.kind_parameter) in spec.kinds:
        return str(hp[spec.kind_parameter])
    return spec.kinds[0]


def _check_hyper_parameters(model: CatalogModel, given: dict[str, Any]) -> dict[str, Any]:
    allowed = set(model.hp_schema.get("properties", {}))
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Unsupported hyper_parameters for {model.spec.name}: {', '.join(unknown)}. "
            f"Supported: {', '.join(sorted(allowed))}.",
        )
    merged = {**model.defaults, **given}
    errors = sorted(
        _validator(model.hp_schema).iter_errors(merged),
        key=lambda e: list(e.path),
    )
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.path) or "hyper_parameters"
        raise ApiError(400, "InvalidParameter", f"Invalid hyper_parameters.{where}: {e.message}")
    return merged


def _file_ids(body: dict[str, Any], ids_key: str, datasets_key: str) -> list[str]:
    ids = body.get(ids_key) or []
    if isinstance(ids, str):
        ids = [ids]
    for ds in body.get(datasets_key) or []:
        if isinstance(ds, dict) and ds.get("file_id"):
            ids.append(str(ds["file_id"]))
    return [str(i) for i in ids]


# how many ids a create draws before it gives up (each taken with 1 chance in 65,536 per job of
# the minute)
_ID_DRAWS = 64


async def create_job(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    body = await read_json(request)
    model = _model(emu, str(body.get("model") or ""), region)
    training_type = body.get("training_type") or "sft"
    if training_type != model.spec.training_type:
        raise ApiError(
            400,
            "InvalidParameter",
            f"The model {model.spec.name} does not support training_type: {training_type}",
        )
    train_ids = _file_ids(body, "training_file_ids", "training_datasets")
    if not train_ids:
        raise ApiError(400, "InvalidParameter", "Missing training files")
    val_ids = _file_ids(body, "validation_file_ids", "validation_datasets")
    for fid in train_ids + val_ids:
        if emu.store.get("file", fid, region) is None:
            raise ApiError(400, "InvalidParameter", f"File not found: {fid}")
    given = body.get("hyper_parameters") or {}
    if not isinstance(given, dict):
        raise ApiError(400, "InvalidParameter", "hyper_parameters must be an object.")
    hp = _check_hyper_parameters(model, given)
    kind = _kind(model, hp)
    limits = model.spec.limits.get(region)
    # opening every medium of the zips takes a while: off the event loop, so that other
    # requests are served meanwhile (and several creates check side by side)
    failure, n_train, items, val_items = await asyncio.to_thread(
        _check_datasets, emu, train_ids, val_ids, kind, limits
    )
    n_val = len(val_items) if val_ids else rules.held_back(n_train, hp)
    n_fit = n_train if val_ids else n_train - n_val
    total_steps, per_epoch = rules.training_steps(kind, n_fit, hp)
    video = rules.is_video(kind)
    if emu.profile.enforces_step_rules and failure is None:
        _check_step_rules(kind, hp, total_steps, n_fit)
    checkpoints = [
        {
            "checkpoint": f"checkpoint-{n}",
            "number": n,
            "step": n * (per_epoch or 0) if video else n,
        }
        for n in rules.checkpoint_numbers(kind, hp, total_steps)
    ]
    if video:
        tokens_per_step = int(hp["batch_size"]) * int(hp["max_pixels"]) // 1024 * 5
    else:
        tokens_per_step = (model.spec.tokens_per_step or {}).get(str(hp.get("max_pixels")), 128000)
    now = emu.clock()
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(now))
    keeps = emu.profile.keeps_names
    for _ in range(_ID_DRAWS):
        # the service's ids: the minute and 4 hex digits, 65,536 a minute. A thousand jobs
        # created in one minute share a suffix more often than not: a drawn id that is taken
        # is drawn again, and a create never replaces another job
        job_id = f"ft-{minute}-{job_suffix()}"
        generated = f"{model.spec.name}-ft-{minute}-{job_id[-4:]}"
        output = str(body.get("model_name") or generated) if keeps else generated
        if any(
            not j.get("deleted") for j in emu.store.find("job", region, "finetuned_output", output)
        ):
            if keeps and body.get("model_name"):
                raise ApiError(
                    409, "Conflict", f"The model name {output} already exists.", retry=False
                )
            continue  # a generated name of an earlier job's suffix: draw again
        doc = {
            "job_id": job_id,
            "job_name": str(body.get("job_name") or job_id) if keeps else job_id,
            "model": model.spec.name,
            "finetuned_output": output,
            "training_file_ids": train_ids,
            "validation_file_ids": val_ids,
            "hyper_parameters": given,
            "effective": hp,
            "training_type": training_type,
            "kind": kind,
            "created": now,
            "total_steps": total_steps,
            "seconds_per_step": timeline.SECONDS_PER_STEP[kind],
            "checkpoints": checkpoints,
            "save_total_limit": hp.get("save_total_limit"),
            "tokens_per_step": tokens_per_step,
            "failure": failure,
            "fail_at_step": emu.faults.fail_job_at_step,
            "n_train": n_fit,
            "validation_items": val_items or items[:n_val],
            "exports": {},
        }
        if emu.store.add("job", job_id, region, doc):
            return ok(_job_view(emu, doc, now))
    raise ApiError(503, "ServiceUnavailable", "No job id is free this minute; try again later.")


def job_suffix() -> str:
    """The 4 hex digits after a job id's minute (drawn again when the id is taken)."""
    return secrets.token_hex(2)


def _check_datasets(
    emu: Emulator, train_ids: list[str], val_ids: list[str], kind: str, limits: Any
) -> tuple[str | None, int, list[dict[str, Any]], list[dict[str, Any]]]:
    """(the first failure, training samples, training items, validation items)."""
    failure, n_train = None, 0
    items: list[dict[str, Any]] = []
    val_items: list[dict[str, Any]] = []
    for fid in train_ids:
        check = check_zip(emu.store.blobs / fid, kind, "train", limits)
        failure = failure or check.failure
        n_train += check.samples
        items += [{**item, "file_id": fid} for item in check.items]
    for fid in val_ids:
        check = check_zip(emu.store.blobs / fid, kind, "validation", None)
        failure = failure or check.failure
        val_items += [{**item, "file_id": fid} for item in check.items]
    return failure, n_train, items, val_items


def _check_step_rules(kind: str, hp: dict[str, Any], total_steps: int, n_train: int) -> None:
    """The Singapore reference marks both rules as required: refused at create."""
    if not rules.is_video(kind):
        return
    n_epochs, every = int(hp.get("n_epochs", 0)), int(hp.get("eval_epochs") or 0)
    if every * 10 < n_epochs:
        raise ApiError(
            400,
            "InvalidParameter",
            f"eval_epochs ({every}) must be at least n_epochs/10 ({n_epochs}/10).",
        )
    if total_steps < rules.MIN_VIDEO_STEPS:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Total training steps n_epochs x ceil({n_train}/batch_size) = {total_steps}; "
            f"a minimum of {rules.MIN_VIDEO_STEPS} steps is required.",
        )


def _job_view(emu: Emulator, doc: dict[str, Any], now: float) -> dict[str, Any]:
    state = timeline.job_state(doc, now)
    profile = emu.profile
    echoed = dict(doc["hyper_parameters"])
    if not profile.echoes_max_pixels:
        echoed.pop("max_pixels", None)
    train_ids = doc["training_file_ids"] if profile.echoes_file_ids else []
    val_ids = doc["validation_file_ids"] if profile.echoes_file_ids else []
    view: dict[str, Any] = {
        "job_id": doc["job_id"],
        "job_name": doc["job_name"],
        "status": state["status"],
        "model": doc["model"],
        "base_model": doc["model"],
        "training_file_ids": train_ids,
        "validation_file_ids": val_ids,
        "hyper_parameters": echoed,
        "training_type": doc["training_type"],
        "create_time": timeline.stamp(doc["created"]),
        "workspace_id": "llm-emulator",
        "user_identity": "1000000000",
        "creator": "1000000000",
        "modifier": "1000000000",
        "group": "llm",
        "max_output_cnt": doc.get("save_total_limit") or 20,
    }
    if profile.echoes_file_ids:
        view["training_datasets"] = [
            {"data_source_type": "file_id", "file_id": f} for f in train_ids
        ]
        view["validation_datasets"] = [
            {"data_source_type": "file_id", "file_id": f} for f in val_ids
        ]
    if profile.output_before_success or state["status"] == "SUCCEEDED":
        view["finetuned_output"] = doc["finetuned_output"]
    if state["end"] is not None:
        view["end_time"] = timeline.stamp(state["end"])
        view["usage"] = timeline.usage(doc, state["step"])
        view["output_cnt"] = len(timeline.checkpoints_reached(doc, now))
    if "code" in state:
        view["code"], view["message"] = state["code"], state["message"]
    return view


def _job(emu: Emulator, request: Request) -> dict[str, Any]:
    doc = emu.store.get("job", request.path_params["job_id"], emu.region(request))
    if doc is None or doc.get("deleted"):
        raise ApiError(404, "NotFound", "Not found!")
    return doc


async def get_job(request: Request) -> Response:
    emu = emulator(request)
    return ok(_job_view(emu, _job(emu, request), emu.clock()))


async def list_jobs(request: Request) -> Response:
    emu = emulator(request)
    model = request.query_params.get("model") or None
    now = emu.clock()
    page_no, size, total, docs = listing(emu, request, "job", 10, 100, now=now, tag=model)
    return ok(page_body(page_no, size, total, "jobs", [_job_view(emu, d, now) for d in docs]))


async def cancel_job(request: Request) -> Response:
    emu = emulator(request)
    doc = _job(emu, request)
    now = emu.clock()
    status = timeline.job_state(doc, now)["status"]
    if status not in ("PENDING", "RUNNING"):
        raise ApiError(
            400,
            "UnsupportedOperation",
            f"The fine-tune job can not be canceled because it is {status.lower()}",
        )
    doc["cancel_at"] = now
    emu.store.put("job", doc["job_id"], emu.region(request), doc)
    return ok({"status": "success"})


async def delete_job(request: Request) -> Response:
    emu = emulator(request)
    doc = _job(emu, request)
    status = timeline.job_state(doc, emu.clock())["status"]
    if status in ("PENDING", "RUNNING", "CANCELING"):
        raise ApiError(
            400,
            "UnsupportedOperation",
            "The fine-tune job can not be deleted because it is running",
        )
    doc["deleted"] = True
    emu.store.put("job", doc["job_id"], emu.region(request), doc)
    return ok({"status": "success"})


async def job_logs(request: Request) -> Response:
    emu = emulator(request)
    lines = timeline.logs(_job(emu, request), emu.clock())
    try:
        offset = max(0, int(request.query_params.get("offset", 0)))
        count = min(1000, max(1, int(request.query_params.get("line", 100))))
    except ValueError:
        raise ApiError(400, "InvalidParameter", "offset and line must be integers.") from None
    return ok({"total": len(lines), "logs": lines[offset : offset + count]})


def _checkpoint_view(doc: dict[str, Any], c: dict[str, Any], now: float) -> dict[str, Any]:
    view: dict[str, Any] = {
        "create_time": timeline.iso(timeline.step_time(doc, c["step"]))[:19],
        "full_name": f"{doc['job_id']}-{c['checkpoint']}",
        "job_id": doc["job_id"],
        "checkpoint": c["checkpoint"],
    }
    export = doc["exports"].get(c["checkpoint"])
    if export:
        view["status"] = timeline.export_state(export, now)
        view["model_display_name"] = export["display_name"]
        if view["status"] == "SUCCEEDED":
            view["model_name"] = f"{doc['finetuned_output']}-c{c['number']}"
    return view


async def list_checkpoints(request: Request) -> Response:
    emu = emulator(request)
    doc = _job(emu, request)
    now = emu.clock()
    kept = timeline.checkpoints_reached(doc, now)
    return ok([_checkpoint_view(doc, c, now) for c in reversed(kept)])


async def export_checkpoint(request: Request) -> Response:
    emu = emulator(request)
    region = emu.region(request)
    doc = _job(emu, request)
    now = emu.clock()
    status = timeline.job_state(doc, now)["status"]
    if status != "SUCCEEDED":
        raise ApiError(
            400,
            "UnsupportedOperation",
            f"Checkpoints can be exported after the job succeeded; it is {status}.",
        )
    name = request.path_params["checkpoint"]
    kept = {c["checkpoint"]: c for c in timeline.checkpoints_reached(doc, now)}
    if name not in kept:
        raise ApiError(404, "NotFound", f"Checkpoint {name} not found.")
    display = request.query_params.get("model_name")
    if not display:
        raise ApiError(400, "InvalidParameter", "model_name is required.")
    for other in emu.store.all("job", region):
        for ckpt, export in other.get("exports", {}).items():
            same = other["job_id"] == doc["job_id"] and ckpt == name
            if export["display_name"] == display and not same:
                raise ApiError(
                    409, "Conflict", f"model_name {display} is already used.", retry=False
                )
    if name not in doc["exports"]:
        doc["exports"][name] = {"requested": now, "display_name": display}
        emu.store.put("job", doc["job_id"], region, doc)
    return ok(True)


PREVIEW_VALID_S = 86400


async def validation_results(request: Request) -> Response:
    emu = emulator(request)
    doc = _job(emu, request)
    now = emu.clock()
    if timeline.job_state(doc, now)["status"] != "SUCCEEDED":
        return ok([])
    kept = timeline.checkpoints_reached(doc, now)
    return ok([{"checkpoint": c["checkpoint"]} for c in reversed(kept)])


async def validation_details(request: Request) -> Response:
    emu = emulator(request)
    doc = _job(emu, request)
    now = emu.clock()
    name = request.path_params["checkpoint"]
    if name not in {c["checkpoint"] for c in timeline.checkpoints_reached(doc, now)}:
        raise ApiError(404, "NotFound", f"Checkpoint {name} not found.")
    page_no, size = page(request, 10, 100)
    items = doc["validation_items"]
    base = str(request.base_url).rstrip("/")
    video = rules.is_video(doc["kind"])
    rows = []
    # valid 24 h (the validation section of the API reference): from this listing, or under
    # the least helpful reading, from when the checkpoint was saved
    step = next(c["step"] for c in doc["checkpoints"] if c["checkpoint"] == name)
    since = timeline.step_time(doc, step) if emu.profile.previews_expire_from_checkpoint else now
    expires = int(since) + PREVIEW_VALID_S
    for i, item in enumerate(items[(page_no - 1) * size : page_no * size], (page_no - 1) * size):
        url = f"{base}/emulator/previews/{doc['job_id']}/{name}/{i}.{'mp4' if video else 'png'}"
        row: dict[str, Any] = {"prompt": item["prompt"]}
        row["video_path" if video else "image_path"] = f"{url}?Expires={expires}"
        if "first_frame_path" in item:
            row["first_frame_path"] = (
                f"{base}/emulator/inputs/{item['file_id']}/{item['first_frame_path']}"
            )
        rows.append(row)
    return ok(page_body(page_no, size, len(items), "list", rows))


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema  # here: only a create validates, and the import is heavy for a list

    return jsonschema.Draft202012Validator(schema)
