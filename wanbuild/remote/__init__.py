"""Adapter for the Model Studio HTTP API (httpx): the only place that speaks to the service."""

import sys

# httpx's package imports its own command-line tool (click, rich, pygments: about 50 ms) when
# those are installed; wanbuild never runs it. A None entry makes that optional import fail at
# once, as if they were absent, and httpx falls back as it is written to.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
