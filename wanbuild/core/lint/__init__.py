"""Lint rules over a composed effect, its compiled prompts and the probed media facts.

Pure: the caller composes the effect (wanbuild.config), probes media (wanbuild.media) and
loads the hyperparameter JSON Schema; these rules only read values and return findings.
Each finding names the file, the key or sample, and the fix.
"""

from wanbuild.core.findings import Finding
from wanbuild.core.lint.base import LintInput, MediaKey
from wanbuild.core.lint.config_rules import _hyper_parameters, _region
from wanbuild.core.lint.local_rules import _backend, _local_frames
from wanbuild.core.lint.media_rules import (
    _first_frames,
    _last_frames,
    _max_pixels,
    _media,
    _totals,
)
from wanbuild.core.lint.prompt_rules import _prompts, _samples, _template, _trigger
from wanbuild.core.lint.step_rules import _deploy, _steps

__all__ = ["LintInput", "MediaKey", "lint"]


def lint(inp: LintInput) -> list[Finding]:
    rules = (
        _region,
        _backend,
        _hyper_parameters,
        _local_frames,
        _trigger,
        _template,
        _samples,
        _prompts,
        _steps,
        _deploy,
        _media,
        _first_frames,
        _last_frames,
        _max_pixels,
        _totals,
    )
    return [f for rule in rules for f in rule(inp)]
