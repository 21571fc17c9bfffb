"""Lint: the trigger, the effect template, the samples and their compiled prompts."""

from __future__ import annotations

import re
from collections.abc import Iterator

from wanbuild.core import prompts
from wanbuild.core.captions import caption_digest
from wanbuild.core.findings import Finding

# Sample ids become zip entry names; without limits (a model not offered in the region) the
from wanbuild.core.lint.base import (
    DEFAULT_NAME_PATTERN,
    MAX_SAMPLE_ID,
    MAX_TRIGGER,
    PLACEHOLDER,
    TRIGGER_SHAPE,
    LintInput,
    _all_samples,
    _where,
)
from wanbuild.spec.effect import Sample
from wanbuild.spec.kinds import MEDIA_KEYS, SAMPLE_MEDIA, from_clip, is_video_kind


def _trigger(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    t = e.trigger
    if len(t) > MAX_TRIGGER:
        yield Finding(
            "error",
            inp.effect_file,
            "trigger",
            f"{len(t)} characters; a trigger is one short rare token, at most {MAX_TRIGGER}",
            "use a rare token such as s86b5p or m01aa",
        )
        return
    if not TRIGGER_SHAPE.match(t):
        yield Finding(
            "error",
            inp.effect_file,
            "trigger",
            f"{t!r} is not a single token of 3+ ASCII letters, digits or '_'",
            "use a rare token such as s86b5p or m01aa",
        )
        return
    if inp.is_word(t):
        yield Finding(
            "error",
            inp.effect_file,
            "trigger",
            f"{t!r} is an English word; the model already gives it a meaning",
            "use a meaningless letter-digit mix such as s86b5p or zq7x",
        )
    elif t.isalpha():
        yield Finding(
            "warning",
            inp.effect_file,
            "trigger",
            f"{t!r} has no digits; a letter-digit mix is less likely to collide with real words",
            "consider something like s86b5p",
        )
    low = t.lower()
    for split, i, s in _all_samples(e):
        for key, text in (
            ("subject", s.subject),
            ("background", s.background),
            ("distractors", s.distractors or ""),
        ):
            if low in text.lower():
                yield Finding(
                    "error",
                    inp.samples_file,
                    _where(split, i, s, key),
                    f"the caption already contains the trigger {t!r}",
                    "remove it: the compiler puts the trigger in its one place",
                )


def _template(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    try:
        template = prompts.parse_template(e.effect)
    except prompts.TemplateError as err:
        yield Finding(
            "error",
            inp.effect_file,
            "effect",
            f"cannot parse the template: {err}",
            "fix the braces",
        )
        return
    if is_video_kind(e.kind) and "trigger" not in template.slots:
        yield Finding(
            "error",
            inp.effect_file,
            "effect",
            "the effect description has no {trigger} slot",
            "write the trigger into it, e.g. 'Then the {trigger} money rain effect begins, ...'",
        )
    if e.trigger and e.trigger.lower() in e.effect.lower():
        yield Finding(
            "warning",
            inp.effect_file,
            "effect",
            f"the template spells out the trigger {e.trigger!r}",
            "write {trigger} instead, so changing the trigger changes every prompt",
        )
    if PLACEHOLDER.search(e.effect):
        yield Finding(
            "warning",
            inp.effect_file,
            "effect",
            "still the scaffold's placeholder text",
            "describe the effect, worded the way every prompt should carry it",
        )
    slots = set(template.word_slots)
    for split, i, s in _all_samples(e):
        missing = sorted(slots - set(s.words))
        if missing:
            yield Finding(
                "error",
                inp.samples_file,
                _where(split, i, s, "words"),
                f"no value for the template slot(s) {', '.join('{' + m + '}' for m in missing)}",
                "add them under words:, e.g. words: {"
                + ", ".join(f"{m}: ..." for m in missing)
                + "}",
            )
        unknown = sorted(set(s.words) - slots)
        if unknown:
            yield Finding(
                "error",
                inp.samples_file,
                _where(split, i, s, "words"),
                f"{', '.join(unknown)} is not a slot of the effect template "
                f"(slots: {', '.join(sorted(slots)) or 'none'})",
                "remove it or add the slot to `effect`",
            )
    for key in sorted(set(e.deploy.words) - slots):
        yield Finding(
            "error",
            inp.effect_file,
            f"deploy.words.{key}",
            "not a slot of the effect template",
            "remove it",
        )


def _samples(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    n = len(e.samples.train)
    if limits and limits.min_samples and n < limits.min_samples:
        yield Finding(
            "error",
            inp.samples_file,
            "train",
            f"{n} training samples; {e.model.name} in {e.region.name} needs at least "
            f"{limits.min_samples}",
            f"add {limits.min_samples - n} more",
        )
    elif limits and n < limits.recommended_samples:
        yield Finding(
            "warning",
            inp.samples_file,
            "train",
            f"{n} training samples; the guide recommends {limits.recommended_samples} or more "
            "for stable results",
            "add more varied samples",
        )
    name_pattern = limits.file_name_pattern if limits else DEFAULT_NAME_PATTERN
    seen: dict[str, str] = {}
    for split, i, s in _all_samples(e):
        where = _where(split, i, s)
        if len(s.id) > MAX_SAMPLE_ID:
            yield Finding(
                "error",
                inp.samples_file,
                f"{split}[{i}].id",
                f"{len(s.id)} characters; an id names zip entries (plus a suffix like _first), "
                f"so at most {MAX_SAMPLE_ID}",
                "shorten the id",
            )
        elif not re.match(name_pattern, s.id):
            yield Finding(
                "error",
                inp.samples_file,
                f"{split}[{i}].id",
                f"{s.id!r} is not a name the service accepts (zip entries are named after ids)",
                "use only ASCII letters, digits, '_' and '-'",
            )
        if s.id in seen:
            yield Finding(
                "error",
                inp.samples_file,
                f"{split}[{i}].id",
                f"duplicate id {s.id!r} (also {seen[s.id]})",
                "give every sample its own id",
            )
        seen.setdefault(s.id, where)
        rule = SAMPLE_MEDIA[(e.kind, split)]
        for key in rule.required:
            if getattr(s, key) is None and not from_clip(e.kind, split, key, s):
                yield Finding(
                    "error",
                    inp.samples_file,
                    _where(split, i, s, key),
                    f"missing: a {e.kind} {split} sample needs {' + '.join(rule.required)}",
                    f"add `{key}: media/<file>`",
                )
        for key in MEDIA_KEYS:
            if getattr(s, key) is not None and key not in rule.allowed:
                why = (
                    "validation entries carry no video or target: the service generates previews"
                    if split == "validation"
                    else f"{e.kind} samples do not use it"
                )
                yield Finding(
                    "error",
                    inp.samples_file,
                    _where(split, i, s, key),
                    f"not used here ({why})",
                    f"remove `{key}`",
                )
        if split == "validation" and s.distractors:
            yield Finding(
                "error",
                inp.samples_file,
                _where(split, i, s, "distractors"),
                "validation prompts describe only the wanted result, never distracting details",
                "remove distractors from validation entries",
            )
        needs_subject = e.kind != "i2i"
        for key in ("subject", "background"):
            value = getattr(s, key)
            if not value.strip() and (needs_subject or key == "background"):
                yield Finding(
                    "error",
                    inp.samples_file,
                    _where(split, i, s, key),
                    f"empty: the prompt formula needs a {key} description",
                    f"describe the {key} of this sample",
                )
            elif PLACEHOLDER.search(value):
                yield Finding(
                    "warning",
                    inp.samples_file,
                    _where(split, i, s, key),
                    "still the scaffold's placeholder text",
                    f"describe the {key}",
                )
        if s.draft is not None and s.draft.sha256 == caption_digest(s.subject, s.background):
            yield Finding(
                "warning",
                inp.samples_file,
                _where(split, i, s, "draft"),
                f"caption drafted by {s.draft.by} and not reviewed yet",
                "check the subject and background against the picture and correct them "
                "(then remove `draft:`)",
            )


def _prompts(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    try:
        template = prompts.parse_template(e.effect)
    except prompts.TemplateError:
        return  # reported by _template
    compiled = prompts.compile_effect(e)
    fixed = [lit for lit in template.literals if lit.strip()]
    distractor_notes = [s.distractors.strip() for s in e.samples.train if s.distractors]
    pairs = [
        ("train", compiled.train, e.samples.train),
        ("validation", compiled.validation, e.samples.validation),
    ]
    for split, compiled_items, samples in pairs:
        for idx, (p, s) in enumerate(zip(compiled_items, samples, strict=True)):
            yield from _prompt_rules(inp, split, idx, s, p.prompt, fixed, distractor_notes)
    given = e.deploy.aigc_config
    if compiled.aigc_config is None:
        if given.prompt or given.lora_prompt_default:
            yield Finding(
                "warning",
                inp.effect_file,
                "deploy.aigc_config",
                f"{e.kind} deployments take no aigc_config; it is ignored",
                "remove deploy.aigc_config",
            )
        return
    for key in ("prompt", "lora_prompt_default"):
        text = getattr(given, key)
        if text is None:
            continue
        if e.trigger not in text:
            yield Finding(
                "error",
                inp.effect_file,
                f"deploy.aigc_config.{key}",
                "lacks the trigger, so the LoRA would not be activated",
                "include the trigger, or leave it null to compile it from `effect`",
            )
        elif compiled.effect_text not in text:
            yield Finding(
                "warning",
                inp.effect_file,
                f"deploy.aigc_config.{key}",
                "differs from the effect text the model was trained on",
                "leave it null to compile it from `effect`",
            )


def _prompt_rules(
    inp: LintInput,
    split: str,
    idx: int,
    s: Sample,
    prompt: str,
    fixed: list[str],
    distractor_notes: list[str],
) -> Iterator[Finding]:
    e = inp.effect
    where = _where(split, idx, s)
    if e.trigger not in prompt:
        yield Finding(
            "error",
            inp.samples_file,
            where,
            "the compiled prompt lacks the trigger",
            "put {trigger} in the effect template",
        )
    if not _in_order(prompt, fixed):
        yield Finding(
            "error",
            inp.samples_file,
            where,
            "the compiled prompt does not carry the effect description verbatim",
            "keep the effect text only in the template, not in captions",
        )
    if split == "validation":
        for note in distractor_notes:
            if note and note in prompt:
                yield Finding(
                    "error",
                    inp.samples_file,
                    where,
                    f"the validation prompt contains the training distractor note {note[:40]!r}",
                    "validation prompts describe only the wanted result; remove it",
                )


def _in_order(text: str, pieces: list[str]) -> bool:
    pos = 0
    for piece in pieces:
        found = text.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return True
