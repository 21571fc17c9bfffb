"""The Model Studio client: one method per documented endpoint, typed results, safe retries.

Retries (exponential backoff with jitter, honouring Retry-After):
  - 429 is retried for every request: the service refused it without doing anything;
  - a connection that could not be opened is retried for every request: nothing was sent;
  - 5xx, timeouts and dropped connections are retried for reads, deletes and scales, but a
    create (upload, job, deployment, export, task) is never retried blindly: the request may
    have been applied, so it raises TemporaryRemoteError(ambiguous=True) for the caller to
    resolve by listing.
4xx are PermanentRemoteError with the service's code and message. The API key is held by an
auth object whose repr hides it; it is never put in a message.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import httpx

from wanbuild.remote.errors import PermanentRemoteError, RemoteError, TemporaryRemoteError
from wanbuild.remote.models import (
    Checkpoint,
    Deployment,
    DeploymentPage,
    FineTuneJob,
    JobPage,
    LogPage,
    RemoteFile,
    Task,
    parse,
)

UploadApi = Literal["native", "compatible"]
Progress = Callable[[int, int], None]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_LOST = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
PAGES_IN_FLIGHT = 4  # of one listing, after its first page


class BearerAuth(httpx.Auth):
    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


class _ProgressReader:
    """A file object that reports how many bytes httpx has read from it."""

    def __init__(self, f: IO[bytes], total: int, progress: Progress) -> None:
        self._f, self._total, self._progress, self._done = f, total, progress, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        self._done += len(chunk)
        self._progress(self._done, self._total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self._done = 0 if offset == 0 and whence == 0 else self._done
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def fileno(self) -> int:
        return self._f.fileno()


class _Form:
    """A multipart/form-data body: the fields, then one file streamed in 1 MiB chunks (fewer,
    larger writes than httpx's own 64 KiB), with its length known up front. Iterating it again
    (a retried request) starts again from the file's first byte."""

    CHUNK = 1 << 20

    def __init__(self, fields: dict[str, str], name: str, filename: str, f: Any, size: int) -> None:
        boundary = secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={boundary}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(k)}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(filename)}"\r\nContent-Type: application/zip\r\n\r\n'
        )
        self._head = "".join(parts).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._f = f
        self.length = len(self._head) + size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        self._f.seek(0)
        yield self._head
        while chunk := self._f.read(self.CHUNK):
            yield chunk
        yield self._tail


def _quoted(value: str) -> str:
    """A form-data name or filename, quotes and line breaks percent-encoded (RFC 7578)."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        workspace: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
        settle_s: float = 120.0,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        headers = {"X-DashScope-WorkSpace": workspace} if workspace else {}
        self._http = httpx.Client(
            base_url=base_url,
            auth=BearerAuth(api_key),
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=15),
        )
        self.base_url = base_url
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self._jitter, self._on_retry = jitter, on_retry
        # Closed: a request still retrying in another thread (a listing begun at connect)
        # wakes from its backoff, gives up and says nothing more, even after the run's last line.
        self._closed = threading.Event()
        self._closing = threading.Lock()
        self._sleep = sleep or self._closed.wait
        # How long a create whose reply was lost may take to appear in list calls.
        self.settle_s = settle_s
        self.retries = 0  # how many retries this client has made (for reports and tests)

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        with self._closing:
            self._closed.set()
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the request loop ---------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        create: bool = False,
        rewind: Callable[[], None] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kw)
            except _NOT_SENT as e:
                error: TemporaryRemoteError = TemporaryRemoteError(
                    f"{method} {path}: cannot reach the service ({type(e).__name__})",
                    reason=f"cannot reach {self.base_url} ({type(e).__name__})",
                )
            except _LOST as e:
                error = TemporaryRemoteError(
                    f"{method} {path}: no complete response ({type(e).__name__})",
                    ambiguous=create,
                    reason=f"no complete response ({type(e).__name__})",
                )
                if create:
                    raise error from None
            else:
                if response.status_code < 400:
                    return response
                error_or_final = self._error(method, path, response, create)
                if not isinstance(error_or_final, TemporaryRemoteError) or (
                    create and error_or_final.ambiguous
                ):
                    raise error_or_final
                error = error_or_final
            if attempt >= self.max_retries:
                raise error
            delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + self._jitter() / 2)
            delay = max(delay, error.retry_after or 0.0)
            with self._closing:
                if self._closed.is_set():
                    raise error
                if self._on_retry is not None:
                    self._on_retry(
                        f"retrying {method} {path} (attempt {attempt + 2}/{self.max_retries + 1}) "
                        f"in {delay:.1f} s: {error.reason}"
                    )
            self._sleep(delay)
            if self._closed.is_set():
                raise error
            attempt += 1
            self.retries += 1
            if rewind is not None:
                rewind()

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response, create: bool) -> RemoteError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        nested: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        code = str(body.get("code") or nested.get("code") or response.status_code)
        message = str(
            body.get("message")
            or body.get("msg")
            or nested.get("message")
            or response.reason_phrase
        )
        rid = body.get("request_id") or response.headers.get("x-request-id")
        text = f"{method} {path}: {response.status_code} {code}: {message}"
        status = response.status_code
        if status == 429:
            retry_after = response.headers.get("retry-after")
            return TemporaryRemoteError(
                text,
                status=status,
                code=code,
                request_id=rid,
                retry_after=float(retry_after) if retry_after else None,
                reason=f"{status} {code}",
            )
        if status >= 500 or status == 408:
            return TemporaryRemoteError(
                text,
                status=status,
                code=code,
                request_id=rid,
                ambiguous=create,
                reason=f"{status} {code}",
            )
        return PermanentRemoteError(text, status=status, code=code, request_id=rid)

    def _json(self, method: str, path: str, *, create: bool = False, **kw: Any) -> dict[str, Any]:
        body = self._send(method, path, create=create, **kw).json()
        if not isinstance(body, dict):
            raise PermanentRemoteError(f"{method} {path}: unexpected response {body!r:.200}")
        return body

    def _output(self, method: str, path: str, **kw: Any) -> Any:
        return self._json(method, path, **kw).get("output")

    # --- files ----------------------------------------------------------------------------

    def upload_file(
        self,
        path: Path,
        *,
        api: UploadApi,
        description: str | None = None,
        purpose: str = "fine-tune",
        progress: Progress | None = None,
    ) -> RemoteFile:
        """Stream a file up (never read whole into memory); `progress(done, total)` is called."""
        size = path.stat().st_size
        with path.open("rb") as f:
            body: Any = _ProgressReader(f, size, progress) if progress else f
            field = "files" if api == "native" else "file"
            data = {"purpose": purpose}
            if description is not None and api == "native":
                data["descriptions"] = description
            form = _Form(data, field, path.name, body, size)
            response = self._json(
                "POST",
                _files_path(api),
                create=True,
                rewind=lambda: body.seek(0),  # a retried upload starts (and counts) afresh
                content=form,
                headers={"Content-Type": form.content_type, "Content-Length": str(form.length)},
            )
        if api == "compatible":
            return _parse_file(response, api)
        data_out = response.get("data") or {}
        failed = data_out.get("failed_uploads") or []
        if failed:
            f0 = failed[0]
            raise PermanentRemoteError(
                f"upload of {path.name} failed: {f0.get('code')}: {f0.get('message')}",
                code=f0.get("code"),
            )
        uploaded = data_out["uploaded_files"][0]
        return RemoteFile(
            file_id=uploaded["file_id"], name=uploaded["name"], description=description, size=size
        )

    def get_file(self, file_id: str, *, api: UploadApi) -> RemoteFile:
        body = self._json("GET", f"{_files_path(api)}/{file_id}")
        return _parse_file(body.get("data") if api == "native" else body, api)

    def list_files(self, *, api: UploadApi) -> list[RemoteFile]:
        if api == "compatible":
            return [
                _parse_file(d, api) for d in self._json("GET", _files_path(api)).get("data", [])
            ]

        def page(n: int) -> tuple[list[RemoteFile], int]:
            params = {"page_no": n, "page_size": 100}
            data = self._json("GET", _files_path(api), params=params).get("data") or {}
            files = data.get("files") or []
            return [_parse_file(d, api) for d in files], int(data.get("total", 0))

        return _every_page(page)

    def delete_file(self, file_id: str, *, api: UploadApi) -> None:
        self._send("DELETE", f"{_files_path(api)}/{file_id}")

    # --- fine-tunes -----------------------------------------------------------------------

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
        body: dict[str, Any] = {
            "model": model,
            "training_file_ids": training_file_ids,
            "training_type": training_type,
            "hyper_parameters": hyper_parameters,
        }
        if validation_file_ids:
            body["validation_file_ids"] = validation_file_ids
        if job_name:
            body["job_name"] = job_name
        if model_name:
            body["model_name"] = model_name
        return parse(
            FineTuneJob, self._output("POST", "/api/v1/fine-tunes", create=True, json=body)
        )

    def get_job(self, job_id: str) -> FineTuneJob:
        return parse(FineTuneJob, self._output("GET", f"/api/v1/fine-tunes/{job_id}"))

    def list_jobs(
        self, *, page_no: int = 1, page_size: int = 100, model: str | None = None
    ) -> JobPage:
        params: dict[str, Any] = {"page_no": page_no, "page_size": page_size}
        if model:
            params["model"] = model
        return parse(JobPage, self._output("GET", "/api/v1/fine-tunes", params=params))

    def iter_jobs(self, *, model: str | None = None) -> Iterator[FineTuneJob]:
        return iter(_every_page(lambda n: _items(self.list_jobs(page_no=n, model=model), "jobs")))

    def cancel_job(self, job_id: str) -> None:
        self._send("POST", f"/api/v1/fine-tunes/{job_id}/cancel")

    def delete_job(self, job_id: str) -> None:
        self._send("DELETE", f"/api/v1/fine-tunes/{job_id}")

    def job_logs(self, job_id: str, *, offset: int = 0, line: int = 1000) -> LogPage:
        return parse(
            LogPage,
            self._output(
                "GET", f"/api/v1/fine-tunes/{job_id}/logs", params={"offset": offset, "line": line}
            ),
        )

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        items = self._output("GET", f"/api/v1/fine-tunes/{job_id}/checkpoints") or []
        return [parse(Checkpoint, c) for c in items]

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        return bool(
            self._output(
                "GET",
                f"/api/v1/fine-tunes/{job_id}/export/{checkpoint}",
                params={"model_name": model_name},
                create=True,
            )
        )

    def validation_results(self, job_id: str) -> list[str]:
        items = self._output("GET", f"/api/v1/fine-tunes/{job_id}/validation-results") or []
        return [str(i["checkpoint"]) for i in items]

    def validation_details(
        self, job_id: str, checkpoint: str, *, page_no: int = 1, page_size: int = 10
    ) -> dict[str, Any]:
        out = self._output(
            "GET",
            f"/api/v1/fine-tunes/{job_id}/validation-details/{checkpoint}",
            params={"page_no": page_no, "page_size": page_size},
        )
        return dict(out or {})

    # --- deployments ----------------------------------------------------------------------

    def create_deployment(
        self,
        model_name: str,
        *,
        capacity: int = 1,
        plan: str = "lora",
        aigc_config: dict[str, Any] | None = None,
        suffix: str | None = None,
    ) -> Deployment:
        body: dict[str, Any] = {"model_name": model_name, "capacity": capacity, "plan": plan}
        if aigc_config is not None:
            body["aigc_config"] = aigc_config
        if suffix:
            body["suffix"] = suffix
        return parse(
            Deployment, self._output("POST", "/api/v1/deployments", create=True, json=body)
        )

    def get_deployment(self, deployed_model: str) -> Deployment:
        return parse(Deployment, self._output("GET", f"/api/v1/deployments/{deployed_model}"))

    def list_deployments(self, *, page_no: int = 1, page_size: int = 200) -> DeploymentPage:
        return parse(
            DeploymentPage,
            self._output(
                "GET", "/api/v1/deployments", params={"page_no": page_no, "page_size": page_size}
            ),
        )

    def iter_deployments(self) -> Iterator[Deployment]:
        return iter(_every_page(lambda n: _items(self.list_deployments(page_no=n), "deployments")))

    def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        return parse(
            Deployment,
            self._output(
                "PUT", f"/api/v1/deployments/{deployed_model}/scale", json={"capacity": capacity}
            ),
        )

    def delete_deployment(self, deployed_model: str) -> Deployment:
        return parse(Deployment, self._output("DELETE", f"/api/v1/deployments/{deployed_model}"))

    # --- generation -----------------------------------------------------------------------

    def _submit(self, path: str, body: dict[str, Any]) -> str:
        out = self._output(
            "POST",
            f"/api/v1/services/aigc/{path}",
            create=True,
            json=body,
            headers={"X-DashScope-Async": "enable"},
        )
        return str(out["task_id"])

    def submit_video(
        self, model: str, img_url: str, *, prompt: str | None = None, resolution: str = "480P"
    ) -> str:
        return self._submit(
            "video-generation/video-synthesis",
            {
                "model": model,
                "input": {"img_url": img_url, **({"prompt": prompt} if prompt else {})},
                "parameters": {"resolution": resolution, "prompt_extend": False},
            },
        )

    def submit_t2v(self, model: str, prompt: str, *, resolution: str = "480P") -> str:
        return self._submit(
            "video-generation/video-synthesis",
            {
                "model": model,
                "input": {"prompt": prompt},
                "parameters": {"resolution": resolution, "prompt_extend": False},
            },
        )

    def submit_kf2v(
        self,
        model: str,
        first_frame_url: str,
        last_frame_url: str | None = None,
        *,
        resolution: str = "480P",
    ) -> str:
        data = {"first_frame_url": first_frame_url}
        if last_frame_url:
            data["last_frame_url"] = last_frame_url
        return self._submit(
            "image2video/video-synthesis",
            {
                "model": model,
                "input": data,
                "parameters": {"resolution": resolution, "prompt_extend": False},
            },
        )

    def submit_image(self, model: str, prompt: str, *, image_url: str | None = None) -> str:
        content: list[dict[str, str]] = [{"image": image_url}] if image_url else []
        content.append({"text": prompt})
        return self._submit(
            "image-generation/generation",
            {
                "model": model,
                "input": {"messages": [{"role": "user", "content": content}]},
                "parameters": {"n": 1},
            },
        )

    def chat(self, model: str, messages: list[dict[str, Any]], **parameters: Any) -> Chat:
        """One OpenAI-compatible chat completion (`/compatible-mode/v1/chat/completions`)."""
        body = self._json(
            "POST",
            "/compatible-mode/v1/chat/completions",
            json={"model": model, "messages": messages, **parameters},
        )
        choices = body.get("choices") or [{}]
        content = ((choices[0] or {}).get("message") or {}).get("content")
        if not isinstance(content, str):
            raise PermanentRemoteError(f"chat with {model}: no answer in the reply {body!r:.200}")
        usage = body.get("usage") or {}
        return Chat(content, int(usage.get("total_tokens") or 0))

    def get_task(self, task_id: str) -> Task:
        return parse(Task, self._output("GET", f"/api/v1/tasks/{task_id}"))

    def download(self, url: str) -> bytes:
        """Fetch a result URL. No credentials are sent: results live on other hosts (OSS)."""
        return self._send("GET", url, auth=None).content


T = TypeVar("T")


@dataclass(frozen=True)
class Chat:
    content: str
    tokens: int


def _items(page: JobPage | DeploymentPage, key: str) -> tuple[list[Any], int]:
    return list(getattr(page, key)), page.total


def _every_page(fetch: Callable[[int], tuple[list[T], int]]) -> list[T]:
    """Every item of a paged listing. Page 1 tells how many there are; the pages that makes
    are then asked for a few at a time (each page is a round trip, and hundreds of objects
    are several pages), and then one by one for as long as items are short of the newest
    `total` (objects created meanwhile push items onto later pages)."""
    items, total = fetch(1)
    out = list(items)
    if not items or len(out) >= total:
        return out
    pages = -(-total // len(items))
    with ThreadPoolExecutor(max_workers=min(PAGES_IN_FLIGHT, pages - 1)) as pool:
        rest = list(pool.map(fetch, range(2, pages + 1)))
    out += [item for items, _ in rest for item in items]
    items, total = rest[-1]
    number = pages
    while items and len(out) < total:
        number += 1
        items, total = fetch(number)
        out += items
    return out


def _files_path(api: UploadApi) -> str:
    return "/api/v1/files" if api == "native" else "/compatible-mode/v1/files"


_COMPATIBLE_FILE = {"id": "file_id", "filename": "name", "bytes": "size", "purpose": "purpose"}


def _parse_file(doc: object, api: UploadApi) -> RemoteFile:
    if api == "compatible" and isinstance(doc, dict):  # the OpenAI-style names
        doc = {_COMPATIBLE_FILE[k]: v for k, v in doc.items() if k in _COMPATIBLE_FILE}
    return parse(RemoteFile, doc)
