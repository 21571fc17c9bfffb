"""The OpenAI-compatible chat API (`/compatible-mode/v1/chat/completions`) as far as `wanbuild
caption` uses it: a vision-language model (Qwen-VL) asked to describe one picture.

The emulator's model answers deterministically from the picture itself: its brightness, its
dominant colour and its shape, worded as the subject and background of a caption in the JSON
the request asks for, so that tests and the demo run offline and the same picture always gets
the same words. Usage is counted as the real API reports it (prompt and completion tokens).
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wanbuild.emulator.http import ApiError, emulator, plain, read_json

VISION_MODELS = ("qwen3-vl-plus", "qwen3-vl-flash", "qwen-vl-max", "qwen-vl-plus")
_COLOURS = {
    (1, 0, 0): "red",
    (0, 1, 0): "green",
    (0, 0, 1): "blue",
    (1, 1, 0): "yellow",
    (0, 1, 1): "teal",
    (1, 0, 1): "purple",
}


async def chat_completions(request: Request) -> Response:
    emulator(request)  # the key is checked like every call's
    body = await read_json(request)
    model = str(body.get("model") or "")
    if model not in VISION_MODELS:
        raise ApiError(
            400, "InvalidParameter", f"The model `{model}` does not exist or is not a vision model."
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "InvalidParameter", "messages must be a non-empty list.")
    picture = _picture(messages)
    if picture is None:
        raise ApiError(400, "InvalidParameter", "The request carries no image_url to describe.")
    subject, background = _describe(picture)
    content = json.dumps({"subject": subject, "background": background})
    prompt_tokens = 256 + sum(len(json.dumps(m)) // 4 for m in messages if _is_text(m))
    return plain(
        {
            "id": f"chatcmpl-{uuid.uuid4()}",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_tokens + len(content) // 4,
            },
        }
    )


def _is_text(message: Any) -> bool:
    return isinstance(message, dict) and isinstance(message.get("content"), str)


def _picture(messages: list[Any]) -> bytes | None:
    for m in messages:
        parts = m.get("content") if isinstance(m, dict) else None
        for part in parts if isinstance(parts, list) else []:
            url = (
                ((part or {}).get("image_url") or {}).get("url") if isinstance(part, dict) else None
            )
            if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
                try:
                    return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
                except ValueError:
                    raise ApiError(
                        400, "InvalidParameter", "image_url is not valid base64."
                    ) from None
    return None


def _describe(data: bytes) -> tuple[str, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            small = im.convert("RGB").resize((8, 8))
            w, h = im.size
    except (UnidentifiedImageError, OSError):
        raise ApiError(400, "InvalidParameter", "The image cannot be decoded.") from None
    pixels = list(small.tobytes())
    r, g, b = (sum(pixels[i::3]) / 64 for i in range(3))
    light = (r + g + b) / 3
    top = max(r, g, b)
    key = tuple(int(c >= top * 0.8) for c in (r, g, b))
    colour = _COLOURS.get(key, "grey")  # type: ignore[arg-type]
    shape = (
        "a tall portrait frame"
        if h > w * 1.1
        else "a wide frame"
        if w > h * 1.1
        else "a square frame"
    )
    tone = "a brightly lit" if light > 150 else "a dimly lit" if light < 80 else "an evenly lit"
    subject = f"A person in {colour} clothing stands at the centre of {shape},"
    background = f"in {tone} room with plain walls and soft shadows."
    return subject, background
