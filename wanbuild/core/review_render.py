"""`wanbuild diff` as text (terminal), Markdown (a pull-request comment) and JSON. Pure."""

from __future__ import annotations

import json
from typing import Any

from wanbuild.core.review import EffectDiff, word_diff

CONTEXT = 5  # words kept on each side of a change
LONG = 80  # a value longer than this is shown as a word diff, not before -> after


def _ops(before: str, after: str) -> list[tuple[str, str]]:
    """The word diff with long unchanged runs cut to a few words around each change."""
    ops = word_diff(before, after)
    out = []
    for i, (op, words) in enumerate(ops):
        w = words.split()
        if op == "=" and len(w) > 2 * CONTEXT + 1:
            head = w[:CONTEXT] if i > 0 else []
            tail = w[-CONTEXT:] if i < len(ops) - 1 else []
            words = " ".join([*head, "…", *tail])
        out.append((op, words))
    return out


def _words_text(before: str, after: str) -> str:
    marks = {"=": "{}", "-": "[-{}-]", "+": "{{+{}+}}"}
    return " ".join(marks[op].format(words) for op, words in _ops(before, after))


def _change_text(before: str, after: str) -> str:
    if len(before) > LONG or len(after) > LONG:
        return _words_text(before, after)
    return f"{before} -> {after}"


def _figure(before: str, after: str) -> str:
    return f"{after} (unchanged)" if before == after else f"{before} -> {after}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _words_md(before: str, after: str) -> str:
    marks = {"=": "{}", "-": "~~{}~~", "+": "**{}**"}
    text = " ".join(marks[op].format(words) for op, words in _ops(before, after))
    return _cell(text)


def _sample_line(s: Any, words: Any) -> str:
    parts = [f"{s.status} {s.split} sample {s.id}"]
    if s.caption:
        parts.append(f"caption: {words(*s.caption)}")
    if s.media:
        parts.append(f"media: {', '.join(s.media)}")
    return "; ".join(parts)


def _counts(d: EffectDiff) -> str:
    by = {k: sum(s.status == k for s in d.samples) for k in ("added", "removed", "changed")}
    return ", ".join(f"{n} {k}" for k, n in by.items() if n) or "no samples changed"


def render_text(diffs: list[EffectDiff], base: str, head: str) -> str:
    changed = [d for d in diffs if d.status != "unchanged"]
    lines = [f"wanbuild diff {base}..{head}: {len(changed)} of {len(diffs)} effects changed"]
    for d in changed:
        lines.append(f"\n{d.name}: {d.status}; {d.impact.value} ({_counts(d)})")
        lines.append(f"  steps  {_figure(*d.steps)}")
        lines.append(f"  cost   {_figure(*d.cost)}")
        for c in d.config:
            lines.append(f"  ~ {c.key}: {_change_text(c.before, c.after)}")
        if d.template:
            lines.append(f"  ~ effect: {_words_text(*d.template)}")
        for s in d.samples:
            lines.append(
                f"  {'+-~'[('added', 'removed', 'changed').index(s.status)]} "
                f"{_sample_line(s, _words_text)}"
            )
        for note in d.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


def render_markdown(
    diffs: list[EffectDiff], base: str, head: str, sheets: dict[str, str] | None = None
) -> str:
    changed = [d for d in diffs if d.status != "unchanged"]
    lines = [
        f"### wanbuild diff: {len(changed)} of {len(diffs)} effects changed",
        "",
        f"`{base}` → `{head}`",
    ]
    for d in changed:
        lines += [
            "",
            "<details open>",
            f"<summary><b><code>{d.name}</code></b>: {d.status}, "
            f"<b>{d.impact.value}</b> ({_counts(d)})</summary>",
            "",
            "| | before | after |",
            "|---|---|---|",
            f"| steps | {d.steps[0]} | {d.steps[1]} |",
            f"| cost | {d.cost[0]} | {d.cost[1]} |",
        ]
        for c in d.config:
            if len(c.before) > LONG or len(c.after) > LONG:
                lines.append(f"| `{c.key}` | changed | {_words_md(c.before, c.after)} |")
            else:
                lines.append(f"| `{c.key}` | {_cell(c.before)} | {_cell(c.after)} |")
        if d.template:
            lines += ["", f"Effect template: {_words_md(*d.template)}"]
        if d.samples:
            lines += ["", "| sample | split | change |", "|---|---|---|"]
            for s in d.samples:
                what = []
                if s.caption:
                    what.append(_words_md(*s.caption))
                if s.media:
                    what.append("media: " + ", ".join(f"`{m}`" for m in s.media))
                lines.append(f"| `{s.id}` | {s.split} | {s.status}: {'<br>'.join(what)} |")
        if sheets and d.name in sheets:
            lines += ["", f"Contact sheet of the added and changed samples: {sheets[d.name]}"]
        for note in d.notes:
            lines += ["", f"_{note}_"]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render_json(diffs: list[EffectDiff], base: str, head: str, sheets: dict[str, str]) -> str:
    doc: dict[str, Any] = {
        "format": 1,
        "base": base,
        "head": head,
        "effects": [{**d.to_json(), "contact_sheet": sheets.get(d.name)} for d in diffs],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
