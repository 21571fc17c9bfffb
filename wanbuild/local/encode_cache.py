"""Latents and text embeddings, cached by content: a retrain after a hyperparameter change
encodes nothing again, a changed caption re-encodes that sample's text only.

    latents: sha256 of the clip's bytes, the VAE's identity, fps, frames, width, height
    text:    the caption, the text encoder's identity, the sequence length, the precision
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from wanbuild.local.jobspec import JobSpec, TrainSample

FORMAT = 1
MAX_SEQUENCE_LENGTH = 512  # the Wan pipelines' default


@dataclass
class Sample:
    id: str
    latents: torch.Tensor  # [1, C, F', H', W'], normalised as the pipelines denormalise
    text: torch.Tensor  # [1, L, D]


def component_identity(weights: Path, component: str) -> str:
    """A component of the weights, named by its config and the size and mtime of its weight
    files (cheap, as DVC's stat cache: weights rewritten in place are encoded again)."""
    d = weights / component
    parts: dict[str, Any] = {}
    for p in sorted(d.iterdir()) if d.is_dir() else ():
        if p.suffix == ".json":
            parts[p.name] = p.read_text(encoding="utf-8")
        elif p.is_file():
            st = p.stat()
            parts[p.name] = [st.st_size, st.st_mtime_ns]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _key(doc: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps({"format": FORMAT, **doc}, sort_keys=True).encode()
    ).hexdigest()


class EncodeCache:
    def __init__(self, root: Path, spec: JobSpec) -> None:
        self.root, self.spec = root, spec
        self.vae_id = component_identity(spec.weights, "vae")
        self.text_id = component_identity(spec.weights, "text_encoder")

    def _latent_key(self, s: TrainSample) -> str:
        hp = self.spec.hp
        return _key(
            {
                "media": s.sha256,
                "vae": self.vae_id,
                "fps": self.spec.fps,
                "frames": int(hp["num_frames"]),
                "size": [int(hp["width"]), int(hp["height"])],
            }
        )

    def _text_key(self, s: TrainSample) -> str:
        return _key(
            {
                "caption": s.prompt,
                "text_encoder": self.text_id,
                "length": MAX_SEQUENCE_LENGTH,
                # the encoder runs in the job's precision: bf16 embeddings are not fp32 ones
                "precision": self.spec.hp.get("precision", "bf16"),
            }
        )

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.safetensors"

    def _load(self, kind: str, key: str) -> torch.Tensor | None:
        try:
            value: torch.Tensor = load_file(str(self._path(kind, key)))["value"]
        except (OSError, KeyError, ValueError, RuntimeError):
            return None
        return value

    def _store(self, kind: str, key: str, value: torch.Tensor) -> None:
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"value": value.detach().cpu().contiguous()}, str(tmp))
        os.replace(tmp, path)

    def encode_all(
        self, pipe: Any, samples: list[TrainSample], device: torch.device, dtype: torch.dtype
    ) -> tuple[list[Sample], int]:
        """Every sample's latents and text, from the cache or encoded now; and how many
        samples needed any encoding."""
        out, encoded = [], 0
        for s in samples:
            lk, tk = self._latent_key(s), self._text_key(s)
            latents, text = self._load("latents", lk), self._load("text", tk)
            if latents is None or text is None:
                encoded += 1
            if latents is None:
                latents = encode_video(pipe, s, self.spec, device, dtype)
                self._store("latents", lk, latents)
            if text is None:
                text = encode_text(pipe, s.prompt, device, dtype)
                self._store("text", tk, text)
            out.append(Sample(s.id, latents.float(), text))
        return out, encoded


@torch.no_grad()
def encode_text(pipe: Any, prompt: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    pipe.text_encoder.to(device)
    embeds, _ = pipe.encode_prompt(
        prompt,
        do_classifier_free_guidance=False,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        device=device,
        dtype=dtype,
    )
    out: torch.Tensor = embeds.to(dtype)
    return out


@torch.no_grad()
def encode_video(
    pipe: Any, s: TrainSample, spec: JobSpec, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    import numpy as np

    from wanbuild.media.frames import sample_frames

    hp = spec.hp
    frames = sample_frames(
        s.video, spec.fps, int(hp["num_frames"]), (int(hp["width"]), int(hp["height"]))
    )
    arr = np.stack([np.asarray(f, dtype=np.float32) for f in frames])  # F H W 3
    video = torch.from_numpy(arr).permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0
    vae = pipe.vae.to(device)
    z: torch.Tensor = vae.encode(video.to(device, vae.dtype)).latent_dist.mode()
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(z)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(z)
    return ((z - mean) / std).float()
