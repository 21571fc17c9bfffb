"""A test seam: kill this process at a named point between remote calls.

`WANBUILD_TEST_CRASH_AT=after_upload` (or before_create_job, after_create_job, waiting,
after_deploy) makes apply SIGKILL itself there, so tests can prove that no point between calls
loses track of a paid object. Unset in normal use; it has no other effect.
"""

from __future__ import annotations

import os
import signal

ENV = "WANBUILD_TEST_CRASH_AT"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
