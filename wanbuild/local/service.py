"""The local backend's door: the calls the reconciler makes of a service, answered on this
machine. No torch here (a plan or status imports none of it); training runs in detached
worker processes (`local.worker`), generation (`try`) imports the pipeline when asked.

On disk, under `backend.state_dir` (default .wanbuild/local):

    blobs/<sha256>.zip            datasets, by content (hard links of the built zips: no copy)
    files/<file_id>.json          a registered dataset: its blob, name, size
    jobs/<job_id>/                job.json, state.json, log.txt, worker.lock, data/,
                                  checkpoints/checkpoint-N/ (LoRA, optimizer, previews, manifest)
    exports/<model_name>/         a checkpoint's LoRA under the name a deployment publishes
    deployments/<name>.json       what is published where
    cache/                        latents and text embeddings, by content
    tasks/<task_id>/              `try` generations
and `backend.library_dir`: the published LoRAs (e.g. ComfyUI's models/loras).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from wanbuild.local import exports, jobstate
from wanbuild.local.extra import INSTALL_HINT, missing
from wanbuild.local.jobspec import JobSpec, unpack, validation_prompts
from wanbuild.local.jobstate import now, read_json, write_json
from wanbuild.local.library import Library
from wanbuild.local.worker import LOCK_FD_ENV
from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.models import Checkpoint, Deployment, FineTuneJob, LogPage, RemoteFile, Task
from wanbuild.remote.service import UploadApi
from wanbuild.store.hashcache import file_sha256

if TYPE_CHECKING:
    from wanbuild.remote.client import Chat


@dataclass(frozen=True)
class LocalModel:
    """What the service needs of a catalog model: its frame rate, whether it has two experts.
    Its weights are the effect's (`model.weights`, which hyper_parameters.weights carries):
    the catalog's conf/ holds no path."""

    name: str
    fps: float
    two_experts: bool


def _not_found(what: str) -> PermanentRemoteError:
    return PermanentRemoteError(f"{what} not found", status=404, code="NotFound")


class LocalService:
    settle_s = 0.0  # nothing lags: what was created is listed at once

    def __init__(
        self,
        root: Path,
        library_dir: Path,
        models: Callable[[str], LocalModel | None],
        *,
        acting: bool = False,
        num_processes: int = 1,
        project: Path | None = None,
        notify: Callable[[str], None] = lambda _l: None,
    ) -> None:
        self.root, self.models = root, models
        self.library = Library(library_dir)
        # acting (apply, reproduce): a job whose worker died is resumed when it is looked at;
        # otherwise (plan, status) it is reported, never restarted
        self.acting, self.num_processes = acting, num_processes
        self.project, self.notify = project, notify

    def close(self) -> None:
        pass

    # --- files ----------------------------------------------------------------------------

    def upload_file(
        self, path: Path, *, api: UploadApi, description: str | None = None
    ) -> RemoteFile:
        sha = file_sha256(path)
        blob = self.root / "blobs" / f"{sha}.zip"
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            tmp = blob.with_name(f".{blob.name}.{os.getpid()}.tmp")
            try:
                os.link(path.resolve(), tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            os.replace(tmp, blob)
        file_id = f"file-local-{secrets.token_hex(8)}"
        doc = {
            "file_id": file_id,
            "name": path.name,
            "description": description,
            "size": path.stat().st_size,
            "sha256": sha,
            "created": now(),
        }
        write_json(self.root / "files" / f"{file_id}.json", doc)
        return _file(doc)

    def _file_doc(self, file_id: str) -> dict[str, Any]:
        doc = read_json(self.root / "files" / f"{file_id}.json")
        if doc is None:
            raise _not_found(f"file {file_id}")
        return doc

    def get_file(self, file_id: str, *, api: UploadApi) -> RemoteFile:
        return _file(self._file_doc(file_id))

    def list_files(self, *, api: UploadApi) -> list[RemoteFile]:
        return [
            _file(d)
            for p in sorted((self.root / "files").glob("*.json"))
            if (d := read_json(p)) is not None
        ]

    def delete_file(self, file_id: str, *, api: UploadApi) -> None:
        path = self.root / "files" / f"{file_id}.json"
        if not path.exists():
            raise _not_found(f"file {file_id}")
        path.unlink()

    # --- jobs -----------------------------------------------------------------------------

    def _job_dir(self, job_id: str) -> Path:
        d = self.root / "jobs" / job_id
        if not (d / "job.json").exists():
            raise _not_found(f"job {job_id}")
        return d

    def create_job(
        self,
        model: str,
        training_file_ids: list[str],
        *,
        hyper_parameters: dict[str, Any],
        validation_file_ids: list[str] | None = None,
        training_type: str = "efficient_sft",
        job_name: str | None = None,
        model_name: str | None = None,
    ) -> FineTuneJob:
        spec_of = self.models(model)
        if spec_of is None:
            raise PermanentRemoteError(
                f"{model} is not a local model (conf/model/*.yaml with a `local:` section)",
                status=400,
                code="InvalidParameter",
            )
        if missing():  # before anything is created: the worker could not start
            raise PermanentRemoteError(
                f"{', '.join(missing())} not installed on this machine: {INSTALL_HINT}",
                status=400,
                code="InvalidParameter",
            )
        hp = dict(hyper_parameters)
        weights = Path(str(hp.pop("weights", None) or ""))
        if not weights.is_absolute() and self.project is not None:
            weights = self.project / weights
        if not (weights / "model_index.json").is_file():
            raise PermanentRemoteError(
                f"{model}: no diffusers model at {weights} (model_index.json missing); set "
                "model.weights to a directory in the diffusers layout, or make a tiny one "
                "with `wanbuild local tiny-model DIR`",
                status=400,
                code="InvalidParameter",
            )
        train = self._file_doc(training_file_ids[0])
        valid = self._file_doc(validation_file_ids[0]) if validation_file_ids else None
        job_id = f"ft-local-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
        name = job_name or job_id
        tmp = self.root / "jobs" / f".{job_id}.tmp"
        unpack(self.root / "blobs" / f"{train['sha256']}.zip", tmp / "data")
        spec = JobSpec(
            job_id=job_id,
            job_name=name,
            model=model,
            weights=weights.resolve(),
            hp=hp,
            fps=spec_of.fps,
            two_experts=spec_of.two_experts,
            data_dir=self.root / "jobs" / job_id / "data",
            validation=validation_prompts(
                self.root / "blobs" / f"{valid['sha256']}.zip" if valid else None
            ),
            cache_dir=self.root / "cache",
            metadata=self._metadata(hp, train, name),
        )
        write_json(tmp / "job.json", spec.to_json())
        write_json(
            tmp / "record.json",
            {
                "training_file_ids": list(training_file_ids),
                "validation_file_ids": list(validation_file_ids or []),
                "model_name": model_name or name,
                "created": now(),
            },
        )
        jobstate.write_state(tmp, status="PENDING", step=0)
        os.replace(tmp, self.root / "jobs" / job_id)
        self._start(self.root / "jobs" / job_id)
        return self.get_job(job_id)

    def _metadata(self, hp: dict[str, Any], train: dict[str, Any], name: str) -> dict[str, str]:
        meta = {
            "wanbuild.trigger": str(hp.get("trigger") or ""),
            "wanbuild.dataset": str(train.get("description") or train["sha256"]),
            "wanbuild.job_fingerprint": name,
        }
        commit = self._commit()
        if commit:
            meta["wanbuild.commit"] = commit
        return meta

    def _commit(self) -> str | None:
        if self.project is None:
            return None
        try:
            out = subprocess.run(
                ["git", "-C", str(self.project), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None if out.returncode == 0 else None

    def _start(self, job_dir: Path) -> bool:
        """Start the job's worker unless one lives (its lock is taken here, then handed to
        the worker: two services can never start two). True when one was started."""
        fd = jobstate.try_lock(job_dir)
        if fd is None:
            return False
        try:
            env = {**os.environ, LOCK_FD_ENV: str(fd), "PYTHONUNBUFFERED": "1"}
            env.setdefault("TOKENIZERS_PARALLELISM", "false")
            # a launcher that starts the worker in a session of its own and exits at once: the
            # worker belongs to no process of apply's (Ctrl-C, a kill, the end of apply never
            # reach it, and no zombie is left to reap)
            launcher = [sys.executable, "-m", "wanbuild.local.worker", "--detach"]
            subprocess.run(
                [*launcher, str(self.num_processes), str(job_dir)],
                stdin=subprocess.DEVNULL,
                pass_fds=(fd,),
                env=env,
                cwd=str(job_dir),
                check=True,
                timeout=60,
            )
            jobstate.log(job_dir, "worker started")
        finally:
            os.close(fd)  # the worker holds the lock now
        return True

    def get_job(self, job_id: str) -> FineTuneJob:
        """The job as its state file says; one whose worker has died is resumed here when
        acting (apply, reproduce: a job is looked up by id only by the effect that owns it),
        else reported as waiting for the next apply."""
        job_dir = self._job_dir(job_id)
        return self._job(job_dir, *self._status(job_dir, resume=self.acting))

    def _status(self, job_dir: Path, *, resume: bool) -> tuple[str, object]:
        state = jobstate.read_state(job_dir)
        status = str(state.get("status") or "PENDING")
        message = state.get("message")
        if status in jobstate.ACTIVE and not jobstate.worker_alive(job_dir):
            last = jobstate.last_checkpoint(job_dir / "checkpoints")
            where = f"{last[0].name} (step {last[1]['step']})" if last else "the start"
            if resume:
                verdict = jobstate.resume_verdict(state, int(last[1]["step"]) if last else 0)
                jobstate.write_state(job_dir, **verdict)
                if verdict.get("status") == "FAILED":
                    return "FAILED", verdict["message"]
                if self._start(job_dir):
                    self.notify(f"job {job_dir.name}: its worker had stopped; resumed from {where}")
                    return "RUNNING", f"resumed from {where}"
            return status, f"its worker has stopped; the next apply resumes it from {where}"
        return status, message

    def _job(self, job_dir: Path, status: str, message: object) -> FineTuneJob:
        spec = JobSpec.read(job_dir)
        record = read_json(job_dir / "record.json") or {}
        output = spec.job_name if status == "SUCCEEDED" else None
        return FineTuneJob(
            job_id=spec.job_id,
            status=status,
            job_name=spec.job_name,
            finetuned_output=output,
            model=spec.model,
            base_model=spec.model,
            training_file_ids=list(record.get("training_file_ids") or []),
            validation_file_ids=list(record.get("validation_file_ids") or []),
            hyper_parameters={"weights": str(spec.weights), **spec.hp},
            training_type="efficient_sft",
            create_time=record.get("created"),
            message=str(message) if message else None,
        )

    def iter_jobs(self, *, model: str | None = None) -> Iterator[FineTuneJob]:
        for d in sorted((self.root / "jobs").glob("ft-local-*")):
            if not (d / "job.json").exists():
                continue
            job = self._job(d, *self._status(d, resume=False))
            if model is None or job.model == model:
                yield job

    def cancel_job(self, job_id: str) -> None:
        job_dir = self._job_dir(job_id)
        pid = jobstate.read_state(job_dir).get("pid")
        if jobstate.worker_alive(job_dir) and isinstance(pid, int):
            with contextlib.suppress(OSError):  # it ended meanwhile
                os.killpg(os.getpgid(pid), 15)
        else:
            jobstate.write_state(job_dir, status="CANCELED")

    def delete_job(self, job_id: str) -> None:
        job_dir = self._job_dir(job_id)
        if jobstate.worker_alive(job_dir):
            raise PermanentRemoteError(
                f"job {job_id} is training; cancel it first", status=409, code="Conflict"
            )
        shutil.rmtree(job_dir)

    def job_logs(self, job_id: str, *, offset: int = 0, line: int = 1000) -> LogPage:
        lines = jobstate.log_lines(self._job_dir(job_id))
        return LogPage(total=len(lines), logs=lines[offset : offset + line])

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        job_dir = self._job_dir(job_id)
        exported = {}
        for p in (self.root / "exports").glob("*/export.json"):
            doc = read_json(p)
            if doc and doc.get("job_id") == job_id:
                exported[doc["checkpoint"]] = doc["model_name"]
        return [
            Checkpoint(
                checkpoint=path.name,
                create_time=manifest.get("created"),
                job_id=job_id,
                model_name=exported.get(path.name),
                status="SUCCEEDED" if path.name in exported else None,
            )
            for path, manifest in jobstate.complete_checkpoints(job_dir / "checkpoints")
        ]

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        job_dir = self._job_dir(job_id)
        path = job_dir / "checkpoints" / checkpoint
        if not (path / "manifest.json").exists():
            raise _not_found(f"checkpoint {checkpoint} of {job_id}")
        exports.export_checkpoint(job_dir, path, model_name)
        return True

    def validation_results(self, job_id: str) -> list[str]:
        job_dir = self._job_dir(job_id)
        done = jobstate.complete_checkpoints(job_dir / "checkpoints")
        return [p.name for p, m in done if m.get("previews")]

    def validation_details(
        self, job_id: str, checkpoint: str, *, page_no: int = 1, page_size: int = 10
    ) -> dict[str, Any]:
        path = self._job_dir(job_id) / "checkpoints" / checkpoint
        manifest = read_json(path / "manifest.json")
        if manifest is None:
            raise _not_found(f"checkpoint {checkpoint} of {job_id}")
        rows = [
            {"prompt": r["prompt"], "video_path": (path / r["video"]).resolve().as_uri()}
            for r in manifest.get("previews") or []
        ]
        start = (page_no - 1) * page_size
        return {"total": len(rows), "list": rows[start : start + page_size]}

    # --- deployments: the LoRA library -----------------------------------------------------

    def _export_of(self, model_name: str) -> tuple[Path, dict[str, Any]]:
        root = self.root / "exports"
        doc = exports.read_export(root, model_name)
        if doc is None:
            raise PermanentRemoteError(
                f"no exported model {model_name}", status=404, code="ModelNotFound"
            )
        return root / model_name, doc

    def create_deployment(
        self,
        model_name: str,
        *,
        capacity: int = 1,
        plan: str = "lora",
        aigc_config: dict[str, Any] | None = None,
        suffix: str | None = None,
    ) -> Deployment:
        folder, export = self._export_of(model_name)
        name = f"{model_name}-{suffix}" if suffix else model_name
        record = self.root / "deployments" / f"{name}.json"
        if record.exists():
            raise PermanentRemoteError(f"{name} is published", status=409, code="Conflict")
        job = read_json(self.root / "jobs" / str(export["job_id"]) / "job.json") or {}
        files = self.library.publish(
            name,
            {e: folder / f"{e}.safetensors" for e in export["experts"]},
            sidecar={
                "name": name,
                "base_model": job.get("model"),
                "job_id": export["job_id"],
                "checkpoint": export["checkpoint"],
                "trigger": (job.get("hyper_parameters") or {}).get("trigger"),
                "aigc_config": aigc_config,
                "format": "wan (diffusion_model.blocks.N.self_attn.q.lora_A.weight)",
            },
        )
        doc = {
            "deployed_model": name,
            "model_name": model_name,
            "base_model": job.get("model"),
            "status": "RUNNING",
            "capacity": 1,
            "plan": plan,
            "aigc_config": aigc_config,
            "files": files,
            "gmt_create": now(),
        }
        write_json(record, doc)
        return _deployment(doc)

    def get_deployment(self, deployed_model: str) -> Deployment:
        doc = read_json(self.root / "deployments" / f"{deployed_model}.json")
        if doc is None:
            raise _not_found(f"deployment {deployed_model}")
        return _deployment(doc)

    def iter_deployments(self) -> Iterator[Deployment]:
        for p in sorted((self.root / "deployments").glob("*.json")):
            doc = read_json(p)
            if doc is not None:
                yield _deployment(doc)

    def delete_deployment(self, deployed_model: str) -> Deployment:
        record = self.root / "deployments" / f"{deployed_model}.json"
        doc = read_json(record)
        if doc is None:
            raise _not_found(f"deployment {deployed_model}")
        self.library.unpublish(deployed_model, list(doc.get("files") or []))
        record.unlink()
        return _deployment({**doc, "status": "DELETING"})

    def published(self, deployed_model: str) -> dict[str, Path]:
        """{expert: the library file} of a deployment."""
        doc = read_json(self.root / "deployments" / f"{deployed_model}.json")
        if doc is None:
            raise _not_found(f"deployment {deployed_model}")
        return self.library.files(list(doc.get("files") or []))

    # --- generation -----------------------------------------------------------------------

    def _unsupported(self, what: str) -> PermanentRemoteError:
        return PermanentRemoteError(
            f"the local backend generates text-to-video only ({what} is a hosted kind)",
            status=400,
            code="InvalidParameter",
        )

    def submit_video(
        self, model: str, img_url: str, *, prompt: str | None = None, resolution: str = "480P"
    ) -> str:
        raise self._unsupported("image-to-video")

    def submit_kf2v(
        self,
        model: str,
        first_frame_url: str,
        last_frame_url: str | None = None,
        *,
        resolution: str = "480P",
    ) -> str:
        raise self._unsupported("first-and-last-frame video")

    def submit_image(self, model: str, prompt: str, *, image_url: str | None = None) -> str:
        raise self._unsupported("image generation")

    def submit_t2v(self, model: str, prompt: str) -> str:
        """Generate with the base model and the published LoRA `model`; the task has ended
        when this returns."""
        dep = read_json(self.root / "deployments" / f"{model}.json")
        if dep is None:
            raise _not_found(f"deployment {model}")
        _, export = self._export_of(str(dep["model_name"]))
        job_dir = self.root / "jobs" / str(export["job_id"])
        spec = JobSpec.read(job_dir)
        # no prompt-rewriting model here: the effect's text is appended, as training saw it
        effect_text = str((dep.get("aigc_config") or {}).get("lora_prompt_default") or "")
        trigger = str(spec.hp.get("trigger") or "")
        if effect_text and trigger and trigger not in prompt:
            prompt = f"{prompt.rstrip()} {effect_text}"
            self.notify(f"prompt (the effect's text appended): {prompt}")
        task_id = f"task-local-{secrets.token_hex(6)}"
        out = self.root / "tasks" / task_id / "out.mp4"
        from wanbuild.local.generate import generate_with_lora

        generate_with_lora(spec, self.published(model), prompt, out)
        write_json(out.parent / "task.json", {"task_id": task_id, "video": out.name})
        return task_id

    def get_task(self, task_id: str) -> Task:
        doc = read_json(self.root / "tasks" / task_id / "task.json")
        if doc is None:
            raise _not_found(f"task {task_id}")
        url = (self.root / "tasks" / task_id / str(doc["video"])).resolve().as_uri()
        return Task(task_id=task_id, task_status="SUCCEEDED", video_url=url)

    def download(self, url: str) -> bytes:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise PermanentRemoteError(f"{url}: the local backend reads file: URLs only")
        try:
            return Path(unquote(parsed.path)).read_bytes()
        except FileNotFoundError:
            raise _not_found(url) from None

    def chat(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> Chat:
        raise PermanentRemoteError(
            "captions are drafted by Model Studio's chat models: run `wanbuild caption` with "
            "backend=dashscope (or the emulator)",
            status=400,
        )


def _file(doc: dict[str, Any]) -> RemoteFile:
    return RemoteFile(
        file_id=doc["file_id"],
        name=doc["name"],
        description=doc.get("description"),
        size=doc.get("size"),
        purpose="fine-tune",
    )


def _deployment(doc: dict[str, Any]) -> Deployment:
    return Deployment(
        deployed_model=doc["deployed_model"],
        status=doc["status"],
        model_name=doc.get("model_name"),
        base_model=doc.get("base_model"),
        capacity=doc.get("capacity"),
        plan=doc.get("plan"),
        aigc_config=doc.get("aigc_config"),
        gmt_create=doc.get("gmt_create"),
    )
