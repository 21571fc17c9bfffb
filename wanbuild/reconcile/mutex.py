"""One apply at a time per effect: an exclusive flock on .wanbuild/locks/<effect>.lock.

The kernel releases a flock when its process dies, however it dies, so a lock left by a killed
apply is never stuck; the holder's pid, host and start time are written into the file so that a
waiting apply can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wanbuild.errors import WanbuildError


class Busy(WanbuildError):
    pass


@contextmanager
def effect_mutex(
    root: Path, effect: str, *, timeout: float, say: Callable[[str], None]
) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{effect}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        waiting_said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise Busy(
                        f"{effect}: another apply holds its lock ({holder}); wait for it "
                        "or try again later"
                    ) from None
                if not waiting_said:
                    say(f"waiting for another apply ({holder})")
                    waiting_said = True
                time.sleep(0.1)
        previous = _holder(path)
        if previous and f"pid {os.getpid()} " not in previous and "no holder" not in previous:
            say(f"the previous apply ({previous}) ended without releasing; continuing")
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            ).encode(),
            0,
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "no holder recorded"
    if not info:
        return "no holder recorded"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
