"""`wanbuild emulator serve`: the emulator as a real HTTP server (uvicorn), for the official
SDK, curl, or `backend=dashscope backend.base_url=http://127.0.0.1:PORT`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from wanbuild.commands.backend import ENV_FAULTS, ENV_PROFILE, ENV_TIME_SCALE
from wanbuild.config.catalog import load_catalog
from wanbuild.config.load import find_conf_dir
from wanbuild.errors import EXIT_OK, ConfigError


def serve(
    *,
    host: str,
    port: int,
    time_scale: float | None,
    state_dir: Path,
    region: str,
    faults: str | None,
    profile: str | None,
    out: TextIO,
    api_key: str | None = None,
) -> int:
    import uvicorn

    from wanbuild.emulator.app import create_app
    from wanbuild.emulator.faults import Faults
    from wanbuild.emulator.profile import profile_named

    catalog = load_catalog(find_conf_dir(Path.cwd()))
    if region not in catalog.regions:
        raise ConfigError(f"--region {region}: known regions: {', '.join(catalog.regions)}")
    scale = time_scale if time_scale is not None else float(os.environ.get(ENV_TIME_SCALE, 3600))
    try:
        parsed = Faults.parse(faults if faults is not None else os.environ.get(ENV_FAULTS))
        chosen = profile_named(profile or os.environ.get(ENV_PROFILE))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    app = create_app(
        state_dir,
        catalog,
        region=region,
        time_scale=scale,
        faults=parsed,
        profile=chosen,
        api_key=api_key,
    )
    print(
        f"wanbuild emulator: region {region}, profile {chosen.name}, time scale {scale:g}, "
        f"state in {state_dir}",
        file=out,
        flush=True,
    )
    _keep_freed_heap()
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    return EXIT_OK


def _keep_freed_heap(pad: int = 64 << 20) -> None:
    """The server reads sockets 256 KiB at a time into new objects and frees each after use;
    glibc gave the freed top of its heap back to the kernel every time, so the next read
    faulted its pages in anew (48 faults a read: 3/4 of the event loop's time in a large
    upload). With M_TOP_PAD it keeps `pad` bytes at the top instead. Not glibc: nothing."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(-2, pad)  # M_TOP_PAD
