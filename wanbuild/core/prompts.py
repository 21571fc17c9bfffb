"""The prompt compiler: one effect template feeds every prompt and the deployment's aigc_config.

The guides' formula: prompt = subject + background + trigger + effect description, with the
effect description the same in every training and validation prompt. Image kinds lead with the
trigger ("s86b5p, ..."). Notes on distracting details go into training prompts only: at the
template's {distractors} slot if it has one, else after the effect text.

Template slots: {trigger}, {distractors}, and any other name, filled per sample from its
`words` (pronouns, for instance: "surrounding {them}. ... {they} stretches {their} arms").
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from wanbuild.spec.effect import AigcConfig, Effect, Sample
from wanbuild.spec.kinds import is_video_kind

RESERVED_SLOTS = frozenset({"trigger", "distractors"})
_CJK_END = "。！？；：，、）」』】"


class TemplateError(ValueError):
    """The effect template cannot be parsed (a stray brace, a format spec)."""


@dataclass(frozen=True)
class Template:
    literals: tuple[str, ...]
    slots: tuple[str, ...]

    @property
    def word_slots(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.slots:
            if s not in RESERVED_SLOTS:
                seen.setdefault(s)
        return tuple(seen)


@dataclass(frozen=True)
class CompiledPrompt:
    sample_id: str
    split: str
    prompt: str


@dataclass(frozen=True)
class Compiled:
    train: tuple[CompiledPrompt, ...]
    validation: tuple[CompiledPrompt, ...]
    effect_text: str
    aigc_config: AigcConfig | None


def parse_template(text: str) -> Template:
    literals: list[str] = []
    slots: list[str] = []
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        raise TemplateError(f"{e} (write a literal brace as {{{{ or }}}})") from None
    for literal, field, spec, conversion in parts:
        literals.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise TemplateError(
                f"slot {{{field}}} is not a plain name like {{trigger}} or {{they}}"
            )
        slots.append(field)
    return Template(tuple(literals), tuple(slots))


def render_effect(template: Template, values: dict[str, str]) -> str:
    out: list[str] = []
    for i, literal in enumerate(template.literals):
        out.append(literal)
        if i < len(template.slots):
            out.append(values.get(template.slots[i], ""))
    return "".join(out)


def join_parts(parts: list[str]) -> str:
    """Join caption parts with a space, or with nothing after CJK punctuation."""
    text = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if text and not text.endswith(tuple(_CJK_END)):
            text += " "
        text += part
    return text


def sample_effect_text(effect: Effect, template: Template, sample: Sample, *, train: bool) -> str:
    values = {"trigger": effect.trigger, **sample.words}
    distractors = (sample.distractors or "").strip() if train else ""
    if "distractors" in template.slots:
        values["distractors"] = (" " + distractors) if distractors else ""
        return render_effect(template, values)
    return join_parts([render_effect(template, values), distractors])


def compile_prompt(effect: Effect, template: Template, sample: Sample, *, train: bool) -> str:
    text = sample_effect_text(effect, template, sample, train=train)
    body = join_parts([sample.subject, sample.background, text])
    if is_video_kind(effect.kind):
        return body
    return f"{effect.trigger}, {body}"


def generic_words(effect: Effect, template: Template) -> dict[str, str]:
    """Slot values for the deployed prompt: deploy.words, else the distinct values joined by '/'."""
    words: dict[str, str] = {}
    for slot in template.word_slots:
        if slot in effect.deploy.words:
            words[slot] = effect.deploy.words[slot]
            continue
        seen: dict[str, None] = {}
        for s in effect.samples.train:
            if slot in s.words:
                seen.setdefault(s.words[slot])
        words[slot] = "/".join(seen)
    return words


def deployed_phrase(effect: Effect, template: Template) -> str:
    """The effect text as the deployment uses it: no distractors, generic slot words."""
    values = {"trigger": effect.trigger, "distractors": "", **generic_words(effect, template)}
    return render_effect(template, values)


def compile_aigc_config(effect: Effect, phrase: str, example: str) -> AigcConfig | None:
    if not is_video_kind(effect.kind):
        return None
    given = effect.deploy.aigc_config
    source = "the user's text" if effect.kind == "t2v" else "the image content"
    prompt = given.prompt or (
        f"Provide a video description based on {source}. The description must include "
        f"the phrase “{phrase}”\n"
        "Output Template:\n"
        "The video begins with a shot of [subject description]. [Environment description]. "
        f"{phrase}\n"
        "Example:\n"
        f"{example}"
    )
    return AigcConfig(
        use_input_prompt=given.use_input_prompt,
        prompt=prompt,
        lora_prompt_default=given.lora_prompt_default or phrase,
    )


def compile_effect(effect: Effect) -> Compiled:
    """Every prompt of the effect. Raises TemplateError if the template does not parse."""
    template = parse_template(effect.effect)
    train = tuple(
        CompiledPrompt(s.id, "train", compile_prompt(effect, template, s, train=True))
        for s in effect.samples.train
    )
    validation = tuple(
        CompiledPrompt(s.id, "validation", compile_prompt(effect, template, s, train=False))
        for s in effect.samples.validation
    )
    example = (
        compile_prompt(effect, template, effect.samples.train[0], train=False)
        if effect.samples.train
        else ""
    )
    phrase = deployed_phrase(effect, template)
    return Compiled(train, validation, phrase, compile_aigc_config(effect, phrase, example))
