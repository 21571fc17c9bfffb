"""The emulator's HTTP conventions: envelopes, errors, request helpers, and the outer gate
(faults, then authentication) in front of every API route."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wanbuild.config.catalog import Catalog
from wanbuild.emulator.faults import Faults
from wanbuild.emulator.profile import TYPICAL, Profile
from wanbuild.emulator.store import Store

API_PREFIXES = ("/api/v1", "/compatible-mode/v1")


class DroppedConnection(Exception):
    """Raised after the response has started: the client sees the connection cut."""

    connection_dropped = True


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry: bool | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry = status, code, message, retry


class Emulator:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        default_region: str,
        clock: Callable[[], float],
        faults: Faults,
        profile: Profile = TYPICAL,
    ) -> None:
        self.store, self.catalog, self.default_region = store, catalog, default_region
        self.clock, self.faults, self.profile = clock, faults, profile
        self.hosts = {urlsplit(r.base_url).hostname: r.name for r in catalog.regions.values()}

    def region(self, request: Request) -> str:
        host = (request.headers.get("host") or "").split(":")[0]
        return self.hosts.get(host, self.default_region)


_ids = random.Random()  # seeded once from the OS: a request id needs no fresh entropy


def new_request_id() -> str:
    """A version-4 UUID without a call into the OS (uuid4's): one per response, hundreds a
    second under many effects."""
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


def ok(payload: Any, *, key: str = "output", status: int = 200) -> JSONResponse:
    request_id = new_request_id()
    body = {"request_id": request_id} if key == "" else {"request_id": request_id, key: payload}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id})


def plain(payload: Any, status: int = 200) -> JSONResponse:
    request_id = new_request_id()
    return JSONResponse(payload, status_code=status, headers={"x-request-id": request_id})


def error(
    status: int,
    code: str,
    message: str,
    *,
    retry: bool | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = new_request_id()
    extra = {"x-request-id": request_id, **(headers or {})}
    if retry is not None:
        extra["x-should-retry"] = "true" if retry else "false"
    return JSONResponse(
        {"request_id": request_id, "code": code, "message": message},
        status_code=status,
        headers=extra,
    )


def emulator(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emulator
    return emu


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "InvalidParameter", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "The request body must be a JSON object.")
    return body


def listing(
    emu: Emulator,
    request: Request,
    kind: str,
    default_size: int,
    max_size: int,
    *,
    now: float,
    tag: str | None = None,
) -> tuple[int, int, int, list[dict[str, Any]]]:
    """One page of a list call at `now`, newest first: (page_no, size, total, documents). Under a
    profile with list lag, objects created less than `list_lag_s` ago are not there yet (GET by
    id sees them at once); deleted ones are gone."""
    page_no, size = page(request, default_size, max_size)
    total, docs = emu.store.listing(
        kind,
        emu.region(request),
        now=now,
        lag=emu.profile.list_lag_s,
        tag=tag,
        offset=(page_no - 1) * size,
        limit=size,
    )
    return page_no, size, total, docs


def page_body(page_no: int, size: int, total: int, key: str, items: list[Any]) -> dict[str, Any]:
    """A page in the service's list shape: page_no, page_size, total, items."""
    return {"page_no": page_no, "page_size": size, "total": total, key: items}


def page(request: Request, default_size: int, max_size: int) -> tuple[int, int]:
    try:
        page_no = int(request.query_params.get("page_no", 1))
        size = int(request.query_params.get("page_size", default_size))
    except ValueError:
        raise ApiError(400, "InvalidParameter", "page_no and page_size must be integers.") from None
    if page_no < 1 or not 1 <= size <= max_size:
        raise ApiError(
            400, "InvalidParameter", f"page_no must be >= 1 and page_size between 1 and {max_size}."
        )
    return page_no, size


class Gate:
    """Outermost layer: faults, then authentication, then the JSON error envelope."""

    def __init__(self, app: ASGIApp, faults: Faults, api_key: str | None = None) -> None:
        self.app, self.faults, self.api_key = app, faults, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        fault = self.faults.draw(str(scope.get("method", "GET")))
        if fault == "429":
            await error(
                429,
                "Throttling",
                "Requests rate limit exceeded, please try again later.",
                headers={"retry-after": "1"},
            )(scope, receive, send)
            return
        if fault == "500":
            await error(
                500,
                "InternalError",
                "An internal error has occured, please try again later or contact service support.",
            )(scope, receive, send)
            return
        if fault == "drop_before":
            await _cut(send)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not given or (self.api_key is not None and given != self.api_key):
            message = "No API-key provided." if not auth else "Invalid API-key provided."
            await error(401, "InvalidApiKey", message)(scope, receive, send)
            return
        if fault == "drop_after":

            async def swallow(message: Message) -> None:
                return None

            await self._run(scope, receive, swallow)
            await _cut(send)
        await self._run(scope, receive, send)

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def _cut(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"request_id": ', "more_body": True})
    raise DroppedConnection("emulated dropped connection")
