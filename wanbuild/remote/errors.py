"""Errors from the service, sorted by what to do about them.

    RemoteError                 the service (or the way to it) failed a request
     ├── TemporaryRemoteError   429, 5xx, timeouts, dropped connections: retrying may succeed
     │     `ambiguous` is True when a create may have been applied (the response was lost)
     └── PermanentRemoteError   4xx: the request is wrong; carries the service's code/message

Messages never contain the API key.
"""

from __future__ import annotations

from wanbuild.errors import WanbuildError


class RemoteError(WanbuildError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.request_id = status, code, request_id


class TemporaryRemoteError(RemoteError):
    def __init__(
        self,
        message: str,
        *,
        ambiguous: bool = False,
        retry_after: float | None = None,
        reason: str = "",
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.ambiguous, self.retry_after = ambiguous, retry_after
        self.reason = reason or message


class PermanentRemoteError(RemoteError):
    pass
