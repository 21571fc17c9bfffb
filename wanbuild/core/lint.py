"""Lint rules over a composed effect, its compiled prompts and the probed media facts.

Pure: the caller composes the effect (wanbuild.config), probes media (wanbuild.media) and
loads the hyperparameter JSON Schema; these rules only read values and return findings.
Each finding names the file, the key or sample, and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from wanbuild.core import prompts
from wanbuild.core.findings import Finding
from wanbuild.core.fitting import fit_media
from wanbuild.core.steps import min_epochs_for, schedule, split_sizes
from wanbuild.spec.effect import Effect, Sample
from wanbuild.spec.kinds import MEDIA_KEYS, SAMPLE_MEDIA, is_video_kind
from wanbuild.spec.media import MediaFacts, MediaProblem, Probe

# Sample ids become zip entry names; without limits (a model not offered in the region) the
# guides' common rule applies.
DEFAULT_NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
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


def lint(inp: LintInput) -> list[Finding]:
    rules = (
        _region,
        _hyper_parameters,
        _trigger,
        _template,
        _samples,
        _prompts,
        _steps,
        _deploy,
        _media,
        _first_frames,
        _max_pixels,
        _totals,
    )
    return [f for rule in rules for f in rule(inp)]


def _where(split: str, i: int, sample: Sample, key: str = "") -> str:
    return f"{split}[{i}] (id {sample.id})" + (f".{key}" if key else "")


def _all_samples(effect: Effect) -> Iterator[tuple[str, int, Sample]]:
    for split, items in (
        ("train", effect.samples.train),
        ("validation", effect.samples.validation),
    ):
        for i, s in enumerate(items):
            yield split, i, s


# --- model, region, hyperparameters ------------------------------------------------------


def _region(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    if e.region.name not in e.model.regions:
        yield Finding(
            "error",
            inp.effect_file,
            "region",
            f"{e.model.name} cannot be fine-tuned in {e.region.name} "
            f"(offered in: {', '.join(e.model.regions)})",
            f"pick one of those regions (region=...) or a model offered in {e.region.name}",
        )


def _hyper_parameters(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    allowed = sorted(inp.hp_schema.get("properties", {}))
    validator = jsonschema.Draft202012Validator(dict(inp.hp_schema))
    for err in sorted(validator.iter_errors(e.hyper_parameters), key=lambda x: list(x.path)):
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(allowed))
            for key in extra:
                yield Finding(
                    "error",
                    inp.effect_file,
                    f"hyper_parameters.{key}",
                    f"not a hyperparameter of {e.model.name}",
                    f"remove it; allowed keys: {', '.join(allowed)}",
                )
            continue
        key = ".".join(str(p) for p in err.path) or "hyper_parameters"
        prop = inp.hp_schema.get("properties", {}).get(str(err.path[-1]) if err.path else "", {})
        fix = f"use one of {prop['enum']}" if "enum" in prop else _bounds_text(err.schema)
        yield Finding(
            "error",
            inp.effect_file,
            f"hyper_parameters.{key}" if err.path else key,
            _short(err.message),
            fix,
        )
    hp = e.hyper_parameters
    if is_video_kind(e.kind) and _is_int(hp.get("n_epochs")) and _is_int(hp.get("eval_epochs")):
        n, every = hp["n_epochs"], hp["eval_epochs"]
        if every * 10 < n:
            yield Finding(
                "error",
                inp.effect_file,
                "hyper_parameters.eval_epochs",
                f"{every} is below n_epochs/10 = {n / 10:g}; the service requires "
                "eval_epochs >= n_epochs/10",
                f"set eval_epochs to at least {-(-n // 10)}",
            )
        elif every > n:
            yield Finding(
                "warning",
                inp.effect_file,
                "hyper_parameters.eval_epochs",
                f"{every} exceeds n_epochs {n}: no intermediate checkpoint will be saved",
                "lower eval_epochs to get checkpoints to choose from",
            )
    image = not is_video_kind(e.kind)
    if image and _is_int(hp.get("eval_steps")) and _is_int(hp.get("max_steps")):  # noqa: SIM102
        if hp["eval_steps"] > hp["max_steps"]:
            yield Finding(
                "warning",
                inp.effect_file,
                "hyper_parameters.eval_steps",
                f"{hp['eval_steps']} exceeds max_steps {hp['max_steps']}: no checkpoint before it",
                "lower eval_steps",
            )


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def _bounds_text(schema: Mapping[str, Any]) -> str:
    parts = []
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "type" in schema:
        parts.insert(0, f"a {schema['type']}")
    return "use " + " and ".join(parts) if parts else "see the model's documented range"


# --- trigger, template, captions ----------------------------------------------------------


def _trigger(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    t = e.trigger
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
        if not re.match(name_pattern, s.id):
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
            if getattr(s, key) is None:
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


# --- steps and checkpoints ----------------------------------------------------------------


def _steps(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    hp = e.hyper_parameters
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), hp)
    if e.samples.train and sizes.train < 1:
        yield Finding(
            "error",
            inp.samples_file,
            "train",
            f"the auto split takes {sizes.validation} of {sizes.total} samples for validation "
            "and leaves none to train on",
            "add samples, or list explicit validation entries",
        )
        return
    try:
        sched = schedule(is_video_kind(e.kind), sizes, hp)
    except (TypeError, ValueError):
        return  # wrong types are reported by the schema check
    floor = e.model.min_total_steps
    split_text = (
        f"auto split: {sizes.train} train + {sizes.validation} validation of {sizes.total}"
        if sizes.auto_split
        else f"{sizes.train} train, {sizes.validation} validation"
    )
    if sched.total_steps < floor:
        if is_video_kind(e.kind) and sched.steps_per_epoch:
            need = min_epochs_for(floor, sched.steps_per_epoch)
            math_text = (
                f"{hp.get('n_epochs')} epochs x ceil({sizes.train}/{hp.get('batch_size')}) "
                f"= {sched.total_steps} steps"
            )
            fix = f"set hyper_parameters.n_epochs to at least {need}, or add samples"
            key = "hyper_parameters.n_epochs"
        else:
            math_text = f"max_steps = {sched.total_steps}"
            fix = f"set hyper_parameters.max_steps to at least {floor}"
            key = "hyper_parameters.max_steps"
        required = e.model.min_total_steps_required
        yield Finding(
            "error" if required else "warning",
            inp.effect_file,
            key,
            f"{math_text} ({split_text}), below the "
            f"{'required minimum' if required else 'recommended floor'} of {floor}",
            fix,
        )


def _deploy(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    d = e.deploy
    if d.capacity != 1:
        yield Finding(
            "warning",
            inp.effect_file,
            "deploy.capacity",
            f"{d.capacity}: LoRA deployments ignore capacity (the guides say set it to 1)",
            "set capacity: 1",
        )
    if d.checkpoint is None:
        return
    number = int(d.checkpoint.removeprefix("checkpoint-"))
    sizes = split_sizes(len(e.samples.train), len(e.samples.validation), e.hyper_parameters)
    try:
        sched = schedule(is_video_kind(e.kind), sizes, e.hyper_parameters)
    except (TypeError, ValueError):
        return
    unit = "epoch" if is_video_kind(e.kind) else "step"
    if number not in sched.checkpoints:
        shown = ", ".join(f"checkpoint-{c}" for c in sched.checkpoints[-6:])
        yield Finding(
            "error",
            inp.effect_file,
            "deploy.checkpoint",
            f"{d.checkpoint} will not exist: checkpoints are saved every "
            f"{e.hyper_parameters.get('eval_epochs' if unit == 'epoch' else 'eval_steps')} {unit}s",
            f"pick one that will, e.g. {shown}",
        )
    elif number not in sched.kept_checkpoints:
        yield Finding(
            "error",
            inp.effect_file,
            "deploy.checkpoint",
            f"{d.checkpoint} is deleted during training: only the last "
            f"{e.hyper_parameters.get('save_total_limit')} checkpoints are kept",
            "raise hyper_parameters.save_total_limit or pin a later checkpoint",
        )


# --- media --------------------------------------------------------------------------------


def _media(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    users: dict[str, str] = {}
    for split, i, s in _all_samples(e):
        for key in MEDIA_KEYS:
            rel = getattr(s, key)
            probe = inp.probes.get((split, i, key))
            if rel is None or probe is None:
                continue
            where = _where(split, i, s, key)
            if isinstance(probe, MediaProblem):
                yield Finding(
                    "error", inp.samples_file, where, f"{rel}: {probe.detail}", _problem_fix(probe)
                )
                continue
            other = users.get(rel)
            if other and split == "train":
                yield Finding(
                    "warning",
                    inp.samples_file,
                    where,
                    f"{rel} is also used by {other}",
                    "use distinct media per sample",
                )
            users.setdefault(rel, where)
            if limits is not None:
                yield from _media_limits(inp, where, rel, probe)


def _media_limits(inp: LintInput, where: str, rel: str, m: MediaFacts) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    assert limits is not None
    f = inp.samples_file
    ctx = f"{e.model.name} in {e.region.name}"
    fit = fit_media(m, limits.image, limits.video)
    if fit is None:
        yield Finding("error", f, where, f"{rel}: {ctx} takes no videos", "remove it")
        return
    if fit.needed:
        if inp.strict:
            yield Finding(
                "error",
                f,
                where,
                f"{rel}: outside the limits of {ctx}: {fit.describe()}",
                "fit it yourself, or build without --strict to let wanbuild fit it",
            )
        else:
            yield Finding(
                "warning",
                f,
                where,
                f"{rel}: build fits it to {ctx}: {fit.describe()}",
                "fine as is; fit it yourself to control the result",
            )
    if fit.trim_to_s is not None and e.kind == "kf2v":
        yield Finding(
            "error",
            f,
            where,
            f"{rel}: trimming to {fit.trim_to_s:g} s would cut the frames its last_frame shows",
            f"cut the clip yourself to {fit.trim_to_s:g} s so it ends on its last frame",
        )
    il = limits.image
    side = max(fit.width, fit.height)
    if m.type == "image" and il.recommended_max_side and side > il.recommended_max_side:
        yield Finding(
            "warning",
            f,
            where,
            f"{rel}: {fit.width}x{fit.height}; the guide suggests at most "
            f"{il.recommended_max_side} per side (larger images train slower)",
            f"downscale it to {il.recommended_max_side} or less",
        )


def _max_pixels(inp: LintInput) -> Iterator[Finding]:
    """One summary, not one line per clip: the service downscales videos above max_pixels."""
    max_pixels = inp.effect.hyper_parameters.get("max_pixels")
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool):
        return
    limits = inp.effect.limits
    sizes = []  # as built: after wanbuild's own fitting
    for p in inp.probes.values():
        if isinstance(p, MediaFacts) and p.type == "video":
            fit = fit_media(p, limits.image, limits.video) if limits else None
            sizes.append((fit.width, fit.height) if fit else (p.width, p.height))
    over = [(w, h) for w, h in sizes if w * h > max_pixels]
    if over:
        w, h = max(over, key=lambda wh: wh[0] * wh[1])
        yield Finding(
            "warning",
            inp.samples_file,
            "train",
            f"{len(over)} video(s) exceed max_pixels {max_pixels} as built "
            f"(largest {w}x{h}); the service downscales them for training",
            "fine as is; or raise hyper_parameters.max_pixels within the model's range",
        )


# Mean absolute difference of two 16x16 grey thumbnails (0-255) above which a first frame and
# its clip's frame 0 are taken to be different pictures; compression alone stays far below.
FIRST_FRAME_DIFFERENCE = 20


def _first_frames(inp: LintInput) -> Iterator[Finding]:
    """The guides' pairs: a sample's first_frame is the picture its video starts from."""
    e = inp.effect
    if not is_video_kind(e.kind):
        return
    for i, s in enumerate(e.samples.train):
        image = inp.probes.get(("train", i, "first_frame"))
        video = inp.probes.get(("train", i, "video"))
        if not (isinstance(image, MediaFacts) and isinstance(video, MediaFacts)):
            continue
        where = _where("train", i, s, "first_frame")
        if image.signature and video.signature:
            diff = sum(abs(a - b) for a, b in zip(image.signature, video.signature, strict=True))
            diff //= len(image.signature)
            if diff > FIRST_FRAME_DIFFERENCE:
                yield Finding(
                    "warning",
                    inp.samples_file,
                    where,
                    f"{s.first_frame} does not look like the first frame of {s.video} "
                    f"(mean difference {diff}/255)",
                    "check the pairing: the model learns to continue the given picture",
                )
                continue
        image_ratio, video_ratio = image.width / image.height, video.width / video.height
        if abs(image_ratio - video_ratio) > 0.05 * video_ratio:
            yield Finding(
                "warning",
                inp.samples_file,
                where,
                f"{s.first_frame} is {image.width}x{image.height} but {s.video} is "
                f"{video.width}x{video.height}: a different aspect ratio",
                "use the clip's own first frame",
            )


def _problem_fix(p: MediaProblem) -> str:
    return {
        "missing": "fix the path, or add the file (dvc pull / dvc repro if it is DVC-tracked)",
        "traversal": "move the file into the effect directory and point at it from there",
        "absolute": "use a path relative to the effect directory, e.g. media/x.jpg",
        "escapes": "copy the file into the effect directory instead of linking outside it",
        "not_file": "point at a file",
        "unreadable": "re-export the file; it cannot be opened",
        "wrong_type": "point this key at the right kind of file",
    }[p.code]


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


def _totals(inp: LintInput) -> Iterator[Finding]:
    e = inp.effect
    limits = e.limits
    if limits is None:
        return
    facts = [p for p in inp.probes.values() if isinstance(p, MediaFacts)]
    images = sum(1 for p in facts if p.type == "image")
    videos = sum(1 for p in facts if p.type == "video")
    for count, cap, what in (
        (images, limits.max_images, "images"),
        (videos, limits.max_videos, "videos"),
    ):
        if cap is not None and count > cap:
            yield Finding(
                "error",
                inp.samples_file,
                "train",
                f"{count} {what}; {e.model.name} in {e.region.name} takes at most {cap}",
                f"remove {count - cap} {what}",
            )
    for split in ("train", "validation"):
        size = sum(
            p.bytes
            for (sp, _, _), p in inp.probes.items()
            if sp == split and isinstance(p, MediaFacts)
        )
        if size > limits.max_zip_bytes:
            yield Finding(
                "error",
                inp.samples_file,
                split,
                f"the {split} zip would hold {_mb(size)} of media, over the "
                f"{_mb(limits.max_zip_bytes)} upload limit",
                "use fewer or smaller media files",
            )
    try:
        compiled = prompts.compile_effect(e)
    except prompts.TemplateError:
        return
    jsonl = sum(len(p.prompt.encode()) + 200 for p in compiled.train)
    if jsonl > limits.max_jsonl_bytes:
        yield Finding(
            "error",
            inp.samples_file,
            "train",
            f"data.jsonl would be about {_mb(jsonl)}, over {_mb(limits.max_jsonl_bytes)}",
            "shorten the captions or split the effect",
        )
