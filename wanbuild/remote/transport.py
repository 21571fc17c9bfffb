"""A synchronous httpx transport that calls an ASGI app in-process.

httpx 0.28's ASGITransport is async-only; this runs it on a private event loop in a daemon
thread, streaming the request body through and reading the response whole. A connection cut by
the app (the emulator's dropped-connection fault) surfaces as httpx.RemoteProtocolError, as it
does over a real socket.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import httpx

WORKERS = 64


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        # the app's blocking work (an upload's md5 and writes, a job's dataset check) runs in
        # the loop's executor: sized for the dozens of requests an apply of many effects has
        # in flight, not for the cores (asyncio's default is cores + 4)
        self._loop.set_default_executor(ThreadPoolExecutor(WORKERS, "wanbuild-emulator-work"))
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="wanbuild-emulator"
        )
        self._closing = threading.Lock()
        self._closed = False
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._closing:  # nothing is handed to the loop once close() began
            if self._closed:
                raise _stopped(request)
            future = asyncio.run_coroutine_threadsafe(self._handle(request), self._loop)
        try:
            return future.result()
        except CancelledError:  # by close(), while the app was at it
            raise _stopped(request) from None

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        stream = request.stream
        assert isinstance(stream, httpx.SyncByteStream | httpx.ByteStream)
        forwarded = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            stream=_AsyncBody(iter(stream)),
            extensions=request.extensions,
        )
        try:
            response = await self._asgi.handle_async_request(forwarded)
            content = await response.aread()
        except Exception as e:
            if not getattr(e, "connection_dropped", False):
                raise
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from None
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    def close(self) -> None:
        """Stop the app. A request still in flight (another thread's, such as a listing made
        in the background) is cancelled and raises, rather than waiting forever on a loop
        that no longer runs; so does any request made after."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            return  # the app is stuck in a blocking call: left to the daemon thread
        # the loop no longer runs: cancel what is left on it here, as asyncio.run() does
        left = asyncio.all_tasks(self._loop)
        for task in left:
            task.cancel()

        async def settled() -> None:
            await asyncio.gather(*left, return_exceptions=True)

        self._loop.run_until_complete(settled())
        self._loop.close()


def _stopped(request: httpx.Request) -> httpx.TransportError:
    return httpx.TransportError("the embedded emulator stopped before answering", request=request)


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
