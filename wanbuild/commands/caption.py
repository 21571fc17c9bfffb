"""`wanbuild caption EFFECT [--model M] [--yes]`: draft the captions still left as placeholders.

For each sample whose subject or background is still the scaffold's placeholder (or empty), one
picture (a video sample's first frame, cut from its clip when samples.yaml leaves it out; an
image sample's image, i2i's input) is sent to a vision-language model on Model Studio through
the OpenAI-compatible chat API (Qwen-VL, `backend=dashscope`, the same key and region as
training; the embedded emulator answers offline). The reply fills the placeholders only, in
samples.yaml edited round-trip (comments and order kept). Each sample is marked `draft:`;
validate warns about the sample until a person changes its caption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands.session import confirm, open_session
from wanbuild.config.load import load_effect
from wanbuild.config.places import display
from wanbuild.config.yaml_edit import set_captions
from wanbuild.core.captions import caption_digest, instruction, parse_reply
from wanbuild.core.lint.base import PLACEHOLDER
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.media.display import cut_frame, jpeg_data_url
from wanbuild.media.probe import media_path
from wanbuild.remote.errors import RemoteError
from wanbuild.spec.effect import Effect, Sample
from wanbuild.spec.kinds import is_video_kind
from wanbuild.store import Store

PICTURE_SIDE = 768  # what is sent: enough to describe, small to upload
TOKENS_PER_CALL = 1200  # an estimate: one picture at that size, the instruction, the reply


def caption_command(
    effect_dir: Path, overrides: list[str], out: TextIO, *, model: str, yes: bool
) -> int:
    loaded = load_effect(effect_dir, overrides)
    effect = loaded.effect
    todo = [(split, s) for split, s in _samples(effect) if _needs_caption(s, effect.kind)]
    if not todo:
        print(f"{effect.name}: no placeholder captions left to draft", file=out)
        return EXIT_OK
    store = Store.for_project(loaded.project)
    pictures: list[tuple[str, Sample, Path]] = []
    for split, s in todo:
        picture = _picture(effect, split, s, store)
        if picture is None:
            print(f"  - {s.id} ({split}): no picture to describe; caption it by hand", file=out)
            continue
        pictures.append((split, s, picture))
    session = open_session([effect_dir], overrides, out)
    try:
        for line in session.headers:
            print(line, file=out)
        print(
            f"{effect.name}: {len(pictures)} caption(s) to draft with {model}: "
            f"{len(pictures)} request(s) of one picture each, about "
            f"{len(pictures) * TOKENS_PER_CALL} tokens; its price is not in wanbuild's "
            "references (see the Model Studio console)"
            + ("; the emulator answers for free" if not session.real else ""),
            file=out,
        )
        if (
            session.real
            and not yes
            and not confirm(out, "Draft these captions?", "this calls a billed model")
        ):
            print("Nothing drafted.", file=out)
            return EXIT_ERROR
        client = session.items[0].client
        drafts: dict[str, dict[str, Any]] = {}
        tokens = 0
        for split, s, picture in pictures:
            try:
                reply = client.chat(model, _messages(effect, picture))
                subject, background = parse_reply(reply.content, effect.trigger)
            except (RemoteError, ValueError) as e:
                print(f"  ! {s.id} ({split}): no draft ({e})", file=out)
                continue
            tokens += reply.tokens
            changes = _filled(s, effect.kind, subject, background)
            after_subject = changes.get("subject", s.subject)
            after_background = changes.get("background", s.background)
            changes["draft"] = {
                "by": model,
                "sha256": caption_digest(after_subject, after_background),
            }
            drafts[s.id] = changes
            shown = " ".join(x for x in (after_subject, after_background) if x)
            print(f"  + {s.id} ({split}): {shown}", file=out)
    finally:
        session.close()
    if drafts:
        set_captions(loaded.effect.directory / "samples.yaml", drafts)
    print(
        f"{effect.name}: {len(drafts)} draft(s) written to "
        f"{display(effect.directory / 'samples.yaml')} ({tokens} tokens); check each against "
        "its picture, correct it, then remove its `draft:` mark (validate warns until then)",
        file=out,
    )
    return EXIT_OK if len(drafts) == len(pictures) else EXIT_ERROR


def _samples(effect: Effect) -> list[tuple[str, Sample]]:
    return [("train", s) for s in effect.samples.train] + [
        ("validation", s) for s in effect.samples.validation
    ]


def _placeholder(text: str) -> bool:
    return not text.strip() or PLACEHOLDER.search(text) is not None


def _needs_caption(s: Sample, kind: str) -> bool:
    return _placeholder(s.background) or (kind != "i2i" and _placeholder(s.subject))


def _filled(s: Sample, kind: str, subject: str, background: str) -> dict[str, Any]:
    """The placeholders only: a caption a person wrote is never replaced."""
    changes: dict[str, Any] = {}
    if kind != "i2i" and _placeholder(s.subject):
        changes["subject"] = subject
    if _placeholder(s.background):
        changes["background"] = background
    return changes


def _picture(effect: Effect, split: str, s: Sample, store: Store) -> Path | None:
    """What the caption describes: as a player shows it (a clip's frame 0, upright)."""
    keys = ("input_image",) if effect.kind == "i2i" else ("first_frame", "image")
    for key in keys:
        rel = getattr(s, key)
        if rel is not None:
            path = media_path(effect.directory, rel)
            return path if path.is_file() else None
    if is_video_kind(effect.kind) and s.video is not None:
        clip = media_path(effect.directory, s.video)
        if not clip.is_file():
            return None
        target = store.root / "cache" / "caption" / f"{effect.name}-{s.id}.jpg"
        try:
            cut_frame(clip, target, "first", None)
        except (ValueError, OSError) as e:
            raise WanbuildError(f"{s.video}: cannot cut its first frame ({e})") from None
        return target
    return None


def _messages(effect: Effect, picture: Path) -> list[dict[str, Any]]:
    url = jpeg_data_url(picture, PICTURE_SIDE)
    return [
        {"role": "system", "content": instruction(effect.kind, effect.trigger)},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": "Caption this picture."},
            ],
        },
    ]
