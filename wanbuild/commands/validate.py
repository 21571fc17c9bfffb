"""`wanbuild validate [EFFECT...]`: will the service accept these effects, and do they follow
the guides' data rules? Nothing is uploaded; exit 1 on any error."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.config.load import load_effect
from wanbuild.core.findings import has_errors
from wanbuild.core.steps import schedule, split_sizes
from wanbuild.dataset.preflight import preflight
from wanbuild.errors import EXIT_ERROR, EXIT_OK, ConfigError
from wanbuild.spec.effect import Effect
from wanbuild.spec.kinds import is_video_kind


def validate(
    effect_dirs: list[Path], overrides: list[str], out: TextIO, *, strict: bool = False
) -> int:
    failed = False
    for effect_dir in effect_dirs:
        try:
            loaded = load_effect(effect_dir, overrides)
            findings = preflight(loaded, strict=strict).findings
        except ConfigError as e:
            failed = True
            for line in str(e).splitlines():
                print(f"error: {line}", file=out)
            continue
        for f in findings:
            print(f.render(), file=out)
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = len(findings) - errors
        failed = failed or has_errors(findings)
        verdict = "FAILED" if errors else "ok"
        print(
            f"{loaded.effect_file}: {verdict}: {summary(loaded.effect)}; "
            f"{errors} error(s), {warnings} warning(s)",
            file=out,
        )
    return EXIT_ERROR if failed else EXIT_OK


def summary(effect: Effect) -> str:
    hp = effect.hyper_parameters
    sizes = split_sizes(len(effect.samples.train), len(effect.samples.validation), hp)
    split = (
        f"{sizes.train} train + {sizes.validation} auto-split validation"
        if sizes.auto_split
        else f"{sizes.train} train + {sizes.validation} validation"
    )
    try:
        steps = f"{schedule(is_video_kind(effect.kind), sizes, hp).total_steps} steps"
    except (TypeError, ValueError):
        steps = "steps unknown"
    return f"{effect.kind} on {effect.model.name} in {effect.region.name}, {split}, {steps}"
