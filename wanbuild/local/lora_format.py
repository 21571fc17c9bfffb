"""LoRA weights between peft's names (diffusers' Wan modules) and the file wanbuild exports.

The exported file uses the key names of Wan's original checkpoints, which ComfyUI loads
natively and diffusers' `load_lora_weights` converts on load:

    diffusion_model.blocks.<i>.self_attn.<q|k|v|o>.lora_A.weight   (rank x in)
    diffusion_model.blocks.<i>.self_attn.<q|k|v|o>.lora_B.weight   (out x rank)
    diffusion_model.blocks.<i>.self_attn.<q|k|v|o>.alpha           (a scalar: lora_alpha)
    ... cross_attn ... for diffusers' attn2

Pure renames over dicts of tensors: no torch import here.
"""

from __future__ import annotations

import re
from typing import Any

PREFIX = "diffusion_model."
_ATTN = {"attn1": "self_attn", "attn2": "cross_attn"}
_PROJ = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o"}
_PEFT = re.compile(
    r"^(?:transformer\.)?(?:base_model\.model\.)?blocks\.(\d+)\.(attn1|attn2)\."
    r"(to_q|to_k|to_v|to_out\.0)\.(lora_A|lora_B)(?:\.default)?\.weight$"
)
_WAN = re.compile(
    r"^diffusion_model\.blocks\.(\d+)\.(self_attn|cross_attn)\.([qkvo])\.(lora_A|lora_B)\.weight$"
)
TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")


def to_wan(peft_state: dict[str, Any], alpha: float, make_scalar: Any) -> dict[str, Any]:
    """peft's LoRA state dict of a Wan transformer as the exported file's keys, with one
    `alpha` per module (`make_scalar(alpha)` makes the tensor)."""
    out: dict[str, Any] = {}
    for key, value in peft_state.items():
        m = _PEFT.match(key)
        if m is None:
            raise ValueError(f"not a LoRA weight of a Wan attention projection: {key}")
        block, attn, proj, part = m.groups()
        base = f"{PREFIX}blocks.{block}.{_ATTN[attn]}.{_PROJ[proj]}"
        out[f"{base}.{part}.weight"] = value
        out.setdefault(f"{base}.alpha", make_scalar(alpha))
    return out


def from_wan(state: dict[str, Any]) -> dict[str, Any]:
    """An exported file's LoRA weights under peft's names (the alphas left out)."""
    attn = {v: k for k, v in _ATTN.items()}
    proj = {v: k for k, v in _PROJ.items()}
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key.endswith(".alpha"):
            continue
        m = _WAN.match(key)
        if m is None:
            raise ValueError(f"not a Wan LoRA weight: {key}")
        block, a, p, part = m.groups()
        out[f"blocks.{block}.{attn[a]}.{proj[p]}.{part}.weight"] = value
    return out
