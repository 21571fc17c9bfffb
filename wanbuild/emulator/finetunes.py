"""Fine-tune jobs: create (with the service's checks), get, list, cancel, delete, logs,
checkpoints, export, validation results and details."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jsonschema
from starlette.requests import Request
from starlette.responses import Response

from wanbuild.config.catalog import CatalogModel
from wanbuild.core.steps import schedule, split_sizes
from wanbuild.emulator import timeline
from wanbuild.emulator.datacheck import check_zip
from wanbuild.emulator.http import ApiError, Emulator, emulator, ok, page, paged, read_json
from wanbuild.spec.kinds import is_video_kind


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
        jsonschema.Draft202012Validator(model.hp_schema).iter_errors(merged),
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
    failure, n_train, items, val_items = None, 0, [], []
    for fid in train_ids:
        check = check_zip(emu.store.blobs / fid, kind, "train", limits)
        failure = failure or check.failure
        n_train += check.samples
        items += [{**item, "file_id": fid} for item in check.items]
    for fid in val_ids:
        check = check_zip(emu.store.blobs / fid, kind, "validation", None)
        failure = failure or check.failure
        val_items += [{**item, "file_id": fid} for item in check.items]
    sizes = split_sizes(n_train, len(val_items), hp)
    sched = schedule(is_video_kind(kind), sizes, hp)
    per_epoch = sched.steps_per_epoch or 0
    checkpoints = [
        {
            "checkpoint": f"checkpoint-{n}",
            "number": n,
            "step": n * per_epoch if is_video_kind(kind) else n,
        }
        for n in sched.checkpoints
    ]
    if is_video_kind(kind):
        tokens_per_step = int(hp["batch_size"]) * int(hp["max_pixels"]) // 1024 * 5
    else:
        tokens_per_step = (model.spec.tokens_per_step or {}).get(str(hp.get("max_pixels")), 128000)
    now = emu.clock()
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(now))
    job_id = f"ft-{minute}-{secrets.token_hex(2)}"
    output = str(body.get("model_name") or f"{model.spec.name}-ft-{minute}-{job_id[-4:]}")
    doc = {
        "job_id": job_id,
        "job_name": str(body.get("job_name") or job_id),
        "model": model.spec.name,
        "finetuned_output": output,
        "training_file_ids": train_ids,
        "validation_file_ids": val_ids,
        "hyper_parameters": given,
        "effective": hp,
        "training_type": training_type,
        "kind": kind,
        "created": now,
        "total_steps": sched.total_steps,
        "seconds_per_step": timeline.SECONDS_PER_STEP[kind],
        "checkpoints": checkpoints,
        "save_total_limit": hp.get("save_total_limit"),
        "tokens_per_step": tokens_per_step,
        "failure": failure,
        "fail_at_step": emu.faults.fail_job_at_step,
        "n_train": sizes.train,
        "validation_items": val_items or items[: sizes.validation],
        "exports": {},
    }
    if any(
        j["finetuned_output"] == output and not j.get("deleted")
        for j in emu.store.all("job", region)
    ):
        raise ApiError(409, "Conflict", f"The model name {output} already exists.", retry=False)
    emu.store.put("job", job_id, region, doc)
    return ok(_job_view(doc, now))


def _job_view(doc: dict[str, Any], now: float) -> dict[str, Any]:
    state = timeline.job_state(doc, now)
    view: dict[str, Any] = {
        "job_id": doc["job_id"],
        "job_name": doc["job_name"],
        "status": state["status"],
        "finetuned_output": doc["finetuned_output"],
        "model": doc["model"],
        "base_model": doc["model"],
        "training_file_ids": doc["training_file_ids"],
        "validation_file_ids": doc["validation_file_ids"],
        "training_datasets": [
            {"data_source_type": "file_id", "file_id": f} for f in doc["training_file_ids"]
        ],
        "validation_datasets": [
            {"data_source_type": "file_id", "file_id": f} for f in doc["validation_file_ids"]
        ],
        "hyper_parameters": doc["hyper_parameters"],
        "training_type": doc["training_type"],
        "create_time": timeline.stamp(doc["created"]),
        "workspace_id": "llm-emulator",
        "user_identity": "1000000000",
        "creator": "1000000000",
        "modifier": "1000000000",
        "group": "llm",
        "max_output_cnt": doc.get("save_total_limit") or 20,
    }
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
    return ok(_job_view(_job(emu, request), emu.clock()))


async def list_jobs(request: Request) -> Response:
    emu = emulator(request)
    page_no, size = page(request, 10, 100)
    now = emu.clock()
    model = request.query_params.get("model")
    docs = [
        d
        for d in emu.store.all("job", emu.region(request))
        if not d.get("deleted") and (not model or d["model"] == model)
    ][::-1]
    return ok(paged(docs, page_no, size, "jobs", lambda d: _job_view(d, now)))


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
    video = is_video_kind(doc["kind"])
    rows = []
    for i, item in enumerate(items[(page_no - 1) * size : page_no * size], (page_no - 1) * size):
        url = f"{base}/emulator/previews/{doc['job_id']}/{name}/{i}.{'mp4' if video else 'png'}"
        row: dict[str, Any] = {"prompt": item["prompt"]}
        row["video_path" if video else "image_path"] = f"{url}?Expires={int(now) + 86400}"
        if "first_frame" in item:
            row["first_frame_path"] = (
                f"{base}/emulator/inputs/{item['file_id']}/{item['first_frame']}"
            )
        rows.append(row)
    return ok({"page_no": page_no, "page_size": size, "total": len(items), "list": rows})
