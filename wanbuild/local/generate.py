"""`try` on the local backend: the base model with a published LoRA, loaded the way a user's
diffusers code loads it (`load_lora_weights`, the low-noise expert's into `transformer_2`)."""

from __future__ import annotations

from pathlib import Path

import torch

from wanbuild.local.jobspec import JobSpec
from wanbuild.local.render import quiet, render
from wanbuild.local.trainer import DTYPES, device_of


def load_with_lora(weights: Path, loras: dict[str, Path], dtype: torch.dtype) -> object:
    from diffusers import WanPipeline

    quiet()
    pipe = WanPipeline.from_pretrained(str(weights), dtype=dtype)
    pipe.vae.to(torch.float32)  # Wan's VAE overflows in half precision
    pipe.set_progress_bar_config(disable=True)
    for expert, path in loras.items():
        pipe.load_lora_weights(
            str(path),
            adapter_name=expert,
            **({"load_into_transformer_2": True} if expert == "transformer_2" else {}),
        )
    return pipe


def generate_with_lora(spec: JobSpec, loras: dict[str, Path], prompt: str, out: Path) -> None:
    device = device_of(spec)
    pipe = load_with_lora(spec.weights, loras, DTYPES[spec.hp.get("precision", "bf16")])
    pipe.to(device)  # type: ignore[attr-defined]
    render(pipe, prompt, spec, out, device)
