"""`wanbuild try EFFECT --image first.jpg [--last last.jpg] [--prompt ...]`: generate with the
effect's live deployment and save the result under .wanbuild/try/<effect>/ (build/ belongs
to DVC).

Local pictures are sent inline (a data: URL), which the emulator reads; the real service needs
a URL it can fetch (`--image https://...`)."""

from __future__ import annotations

import base64
import mimetypes
import time
from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.remote.models import Task
from wanbuild.remote.service import Service

TIMEOUT_S = 1800.0


def _url(image: str) -> str:
    if image.startswith(("http://", "https://", "data:", "oss://")):
        return image
    path = Path(image)
    if not path.is_file():
        raise WanbuildError(f"--image {image}: no such file")
    mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def wait_task(client: Service, task: str, poll: float, later: str) -> Task:
    """The generation task once it has ended (SUCCEEDED or not); an error saying `later`
    when it has not ended within TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        result = client.get_task(task)
        if result.task_status in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"):
            return result
        if time.monotonic() > deadline:
            raise WanbuildError(f"task {task} still {result.task_status}; {later}")
        time.sleep(poll)


def try_command(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    image: str | None,
    last: str | None,
    prompt: str | None,
    poll: float,
) -> int:
    if len(effect_dirs) != 1:
        raise WanbuildError("try takes one effect")
    session = open_session(effect_dirs, overrides, out)
    try:
        item = session.items[0]
        d = item.spec
        o = item.observe()
        dep = o.deployment
        if dep is None or dep.status != "RUNNING":
            raise WanbuildError(
                f"{d.effect} has no running deployment; run `wanbuild apply "
                f"--wait {effect_dirs[0]}` first"
            )
        if d.kind == "i2v":
            if not image:
                raise WanbuildError("--image is required for an image-to-video effect")
            task = item.client.submit_video(dep.deployed_model, _url(image), prompt=prompt)
        elif d.kind == "kf2v":
            if not image:
                raise WanbuildError("--image (the first frame) is required for kf2v")
            task = item.client.submit_kf2v(
                dep.deployed_model, _url(image), _url(last) if last else None
            )
        elif d.kind == "t2v":
            text = (prompt or "").strip()
            if not text:
                raise WanbuildError("--prompt is required for a text-to-video effect")
            print(f"{d.effect}: generating with {dep.deployed_model}", file=out, flush=True)
            task = item.client.submit_t2v(dep.deployed_model, text)
        else:
            text = (prompt or "").strip()
            if not text:
                raise WanbuildError("--prompt is required for an image effect")
            task = item.client.submit_image(
                dep.deployed_model, text, image_url=_url(image) if image else None
            )
        print(f"{d.effect}: task {task} submitted to {dep.deployed_model}", file=out, flush=True)
        result = wait_task(item.client, task, poll, "look again later")
        if result.task_status != "SUCCEEDED":
            print(
                f"{d.effect}: task {task} {result.task_status}: {result.code} {result.message}",
                file=out,
            )
            return EXIT_ERROR
        url = result.video_url or result.image_url
        assert url is not None
        suffix = ".mp4" if result.video_url else ".png"
        target = item.store.root / "try" / d.effect / f"{task}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.client.download(url))
        print(f"{d.effect}: saved {target}", file=out)
    finally:
        session.close()
    return EXIT_OK
