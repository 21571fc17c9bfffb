"""What every lint rule reads (LintInput) and the helpers they share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wanbuild.spec.effect import Effect, Sample
from wanbuild.spec.media import Probe

# Sample ids become zip entry names; without limits (a model not offered in the region) the

# Sample ids become zip entry names; without limits (a model not offered in the region) the
# guides' common rule applies.
DEFAULT_NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_TRIGGER = 32  # one rare token; longer ones are sentences, not triggers
MAX_SAMPLE_ID = 64  # zip entry names are ids plus a suffix; file systems take 255 bytes
TRIGGER_SHAPE = re.compile(r"^[A-Za-z0-9_]{3,}$")
PLACEHOLDER = re.compile(r"<[^<>]*(describe|TODO)[^<>]*>", re.IGNORECASE)
MediaKey = tuple[str, int, str]  # (split, index, media key)


@dataclass(frozen=True)
class LintInput:
    effect: Effect
    effect_file: str
    samples_file: str
    hp_schema: Mapping[str, Any]
    probes: Mapping[MediaKey, Probe]
    # Answers "is this an English word?" (wordfreq in production); injected to stay pure.
    is_word: Callable[[str], bool]
    # Media outside the limits are errors instead of being fitted by `build`.
    strict: bool = False


def _where(split: str, i: int, sample: Sample, key: str = "") -> str:
    return f"{split}[{i}] (id {sample.id})" + (f".{key}" if key else "")


def _all_samples(effect: Effect) -> Iterator[tuple[str, int, Sample]]:
    for split, items in (
        ("train", effect.samples.train),
        ("validation", effect.samples.validation),
    ):
        for i, s in enumerate(items):
            yield split, i, s
