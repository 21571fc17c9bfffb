"""The one boundary between exceptions and the user: one line for user errors, a log for bugs."""

from __future__ import annotations

import contextlib
import datetime
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from wanbuild import __version__
from wanbuild.errors import EXIT_BUG, EXIT_ERROR, WanbuildError

LOG_PATH = Path(".wanbuild") / "wanbuild.log"


class Exit(Exception):
    """Raised by the boundary to carry an exit code out of the `with` block."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@contextlib.contextmanager
def error_handler(log_path: Path = LOG_PATH) -> Iterator[None]:
    try:
        yield
    except WanbuildError as e:
        print(f"error: {e}", file=sys.stderr)
        raise Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise Exit(130) from None
    except Exception as e:  # noqa: BLE001 - this is the boundary for bugs
        _write_bug_report(log_path, e)
        print(
            f"error: an unexpected error occurred ({type(e).__name__}: {e}); "
            f"this is a bug in wanbuild: details are in {log_path}",
            file=sys.stderr,
        )
        raise Exit(EXIT_BUG) from None


def _write_bug_report(log_path: Path, e: BaseException) -> None:
    with contextlib.suppress(OSError):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as f:
            f.write(f"\n## {datetime.datetime.now().isoformat()} wanbuild {__version__}\n")
            f.write(f"argv: {sys.argv!r}\npython: {sys.version}\n\n")
            f.write("".join(traceback.format_exception(e)))
