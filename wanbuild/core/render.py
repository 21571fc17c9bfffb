"""Plans as text (terminal), Markdown (a pull-request comment) and JSON (machines). Pure."""

from __future__ import annotations

import json
from typing import Any

from wanbuild.core.actions import CHANGES, EffectPlan, Kind

_MARK = {
    Kind.UPLOAD: "+",
    Kind.TRAIN: "+",
    Kind.EXPORT: "+",
    Kind.DEPLOY: "+",
    Kind.ADOPT: "~",
    Kind.UNDEPLOY: "-",
    Kind.WAIT: "…",
    Kind.SKIP: "=",
    Kind.BLOCKED: "!",
}


def counts(plans: list[EffectPlan]) -> dict[str, int]:
    actions = [a for p in plans for a in p.actions]
    return {
        "changes": sum(a.kind in CHANGES for a in actions),
        "waiting": sum(a.kind is Kind.WAIT for a in actions),
        "unchanged": sum(a.kind is Kind.SKIP for a in actions),
        "blocked": sum(a.kind is Kind.BLOCKED for a in actions),
    }


def render_text(plans: list[EffectPlan], header: str, fitted: dict[str, tuple[str, ...]]) -> str:
    lines = [header]
    for p in plans:
        lines.append(f"\n{p.effect}: {p.impact.value} ({p.summary})")
        for change in fitted.get(p.effect, ()):
            lines.append(f"    fit {change}")
        for a in p.actions:
            text = f"  {_MARK[a.kind]} {a.kind.value:<8} {a.target}  ({a.reason.value}"
            text += f": {a.detail})" if a.detail else ")"
            if a.estimate and a.kind in CHANGES:
                text += f"  [{a.estimate}]"
            lines.append(text)
    c = counts(plans)
    lines.append(
        f"\nPlan: {c['changes']} to change, {c['waiting']} waiting, "
        f"{c['unchanged']} unchanged, {c['blocked']} blocked."
    )
    return "\n".join(lines)


def render_markdown(
    plans: list[EffectPlan], header: str, fitted: dict[str, tuple[str, ...]]
) -> str:
    c = counts(plans)
    lines = [
        f"### wanbuild plan: {c['changes']} to change, {c['waiting']} waiting, "
        f"{c['blocked']} blocked",
        "",
        f"_{header}_",
        "",
    ]
    for p in plans:
        lines += [f"#### `{p.effect}`: {p.impact.value}", "", p.summary, ""]
        for change in fitted.get(p.effect, ()):
            lines.append(f"- media fitted: {_cell(change)}")
        if fitted.get(p.effect):
            lines.append("")
        lines += ["| | action | target | reason | estimate |", "|---|---|---|---|---|"]
        for a in p.actions:
            reason = f"{a.reason.value}: {a.detail}" if a.detail else a.reason.value
            lines.append(
                f"| {_MARK[a.kind]} | {a.kind.value} | `{_cell(a.target)}` | "
                f"{_cell(reason)} | {_cell(a.estimate) if a.kind in CHANGES else ''} |"
            )
        lines.append("")
    return "\n".join(lines)


def plan_document(
    plans: list[EffectPlan], backend: str, effects: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "format": 1,
        "backend": backend,
        "summary": counts(plans),
        "effects": {
            p.effect: {"impact": p.impact.value, "summary": p.summary, **effects.get(p.effect, {})}
            for p in plans
        },
        "actions": [{**a.to_json(), "impact": p.impact.value} for p in plans for a in p.actions],
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
