"""Whether the local extra (the model libraries a worker trains with) is installed, asked
without importing any of them."""

from __future__ import annotations

import importlib.util

MODULES = ("torch", "diffusers", "peft", "transformers", "accelerate", "safetensors")
INSTALL_HINT = (
    "install the local extra: `pip install torch==2.13.0` (or the build for your CUDA), "
    "then `pip install -e '.[local]' -c .ci/constraints.txt`"
)


def missing() -> list[str]:
    return [m for m in MODULES if importlib.util.find_spec(m) is None]
