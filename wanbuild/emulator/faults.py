"""Faults on demand, deterministic under a seed, for tests and for rehearsing failure.

    WANBUILD_EMULATOR_FAULTS="429=0.2,500=0.1,latency=0.05,drop_before=0.05,drop_after=0.05,
                              lose_post_reply=0.5,fail_job_at_step=100,fail_deploy=1,seed=7"

429 and 500 are answered instead of doing the work; drop_before cuts the connection before the
request is applied, drop_after after it was applied (the response is lost: the ambiguous case);
lose_post_reply does the same as drop_after to POST requests only (the creates), so that a run
can lose the replies of its uploads, jobs and deployments and nothing else; reject_post answers
POST requests with 500 without applying them (a create that never happened, yet got no reply);
latency is added seconds; fail_job_at_step makes every job fail at that step; fail_deploy makes
every deployment FAILED. Only /api/v1 and /compatible-mode paths are affected.

The draws are seeded by the seed and by how many times the emulator's state has been opened, so
a sequence of runs is reproducible from a fresh state, and a rerun does not meet the very same
faults at the very same requests as the run before it (as no real service would).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    lose_post_reply: float = 0.0
    reject_post: float = 0.0
    latency: float = 0.0
    fail_job_at_step: int | None = None
    fail_deploy: bool = False
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, opening: int) -> None:
        """Draw from the sequence of the emulator state's `opening`-th run."""
        self._rng = random.Random(f"{self.seed}/{opening}")

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        names = {"429": "rate_429", "500": "rate_500"}
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        values: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            key, _, raw = part.partition("=")
            name = names.get(key.strip(), key.strip())
            if name not in known:
                raise ValueError(
                    f"unknown emulator fault {key!r} (known: 429, 500, "
                    f"{', '.join(sorted(known - set(names.values())))})"
                )
            if name == "fail_deploy":
                values[name] = raw.strip().lower() in ("1", "true", "yes")
            elif name in ("fail_job_at_step", "seed"):
                values[name] = int(raw)
            else:
                values[name] = float(raw)
        return cls(**values)  # type: ignore[arg-type]

    def draw(self, method: str = "GET") -> str | None:
        """Which fault (if any) hits the next request: '429', '500', 'drop_before', 'drop_after'."""
        with self._lock:
            x = self._rng.random()
            if method == "POST":
                if self.lose_post_reply and self._rng.random() < self.lose_post_reply:
                    return "drop_after"
                if self.reject_post and self._rng.random() < self.reject_post:
                    return "500"
        for name, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("drop_before", self.drop_before),
            ("drop_after", self.drop_after),
        ):
            if x < rate:
                return name
            x -= rate
        return None
