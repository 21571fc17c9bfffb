"""Captions drafted by a vision-language model (`wanbuild caption`): the instruction that
carries the guides' caption rules, reading the model's reply, and knowing a draft nobody has
reviewed yet. Pure: no I/O.

The guides' prompt formula is subject + background + trigger + motion, and the compiler adds
the trigger and the effect text itself. So a draft is the first two parts only: who or what is
in the picture, precisely, then where, with nothing of the effect and never the trigger. "AI
may hallucinate or make recognition errors. Perform a final manual check" (the Singapore
guide): a draft stays marked until a person changes it.
"""

from __future__ import annotations

import json
import re

from wanbuild.core.fingerprint import digest

DEFAULT_MODEL = "qwen3-vl-plus"


def instruction(kind: str, trigger: str) -> str:
    subject = (
        "the input picture the edit starts from"
        if kind == "i2i"
        else "the person, animal or object in the picture"
    )
    return (
        "You write training captions for a video/image generation model. Describe the picture "
        "in two parts. subject: "
        f"{subject}, precisely (who or what, appearance, clothing, colours, expression, pose), "
        "one sentence that ends with a comma. background: the environment around it (place, "
        "surfaces, light), one sentence that ends with a full stop. Describe only what is "
        "visible in this still picture: no motion, no effect, no camera move, no story, and "
        f"never the word {trigger!r}. English. Reply with JSON only: "
        '{"subject": "...", "background": "..."}'
    )


def parse_reply(text: str, trigger: str) -> tuple[str, str]:
    """(subject, background) from the model's reply; ValueError saying what is wrong."""
    body = text.strip()
    fenced = re.search(r"\{.*\}", body, re.DOTALL)
    if fenced is None:
        raise ValueError(f"no JSON object in the reply {body[:80]!r}")
    try:
        doc = json.loads(fenced.group(0))
    except ValueError:
        raise ValueError(f"the reply is not valid JSON: {body[:80]!r}") from None
    subject, background = doc.get("subject"), doc.get("background")
    if not isinstance(subject, str) or not isinstance(background, str):
        raise ValueError("the reply lacks a subject or a background")
    subject, background = " ".join(subject.split()), " ".join(background.split())
    if not subject or not background:
        raise ValueError("the reply has an empty subject or background")
    for part in (subject, background):
        if trigger.lower() in part.lower():
            raise ValueError(f"the reply names the trigger {trigger!r}")
    return subject, background


def caption_digest(subject: str, background: str) -> str:
    """What a draft mark remembers: while the caption still digests to it, nobody changed it."""
    return digest({"subject": subject, "background": background})
