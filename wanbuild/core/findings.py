"""A finding of `wanbuild validate`: where (file, key or sample), what is wrong, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    file: str
    where: str
    message: str
    fix: str = ""

    def render(self) -> str:
        text = f"{self.severity}: {self.file}: {self.where}: {self.message}"
        return f"{text} -> {self.fix}" if self.fix else text


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
