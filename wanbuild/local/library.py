"""The LoRA library a local deployment publishes into (`backend.library_dir`; a ComfyUI
`models/loras` folder works as it is):

    <name>.safetensors                 a model with one expert
    <name>-high_noise.safetensors      Wan 2.2 A14B: the `transformer` expert's LoRA
    <name>-low_noise.safetensors       ... the `transformer_2` expert's
    <name>.wanbuild.json               the sidecar: base model, trigger, prompt template

Each file is written beside its final name and renamed into place, the sidecar last; a
reader that sees the sidecar sees every file. Unpublishing removes the sidecar first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from wanbuild.local.jobstate import write_json

SIDECAR = ".wanbuild.json"
_SUFFIX = {"transformer": "-high_noise", "transformer_2": "-low_noise"}


class Library:
    def __init__(self, root: Path) -> None:
        self.root = root

    def file_names(self, name: str, experts: list[str]) -> dict[str, str]:
        if len(experts) == 1:
            return {experts[0]: f"{name}.safetensors"}
        return {e: f"{name}{_SUFFIX[e]}.safetensors" for e in experts}

    def publish(self, name: str, sources: dict[str, Path], sidecar: dict[str, Any]) -> list[str]:
        """Publish each expert's LoRA and the sidecar; the file names written."""
        self.root.mkdir(parents=True, exist_ok=True)
        names = self.file_names(name, list(sources))
        for expert, src in sources.items():
            dst = self.root / names[expert]
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            shutil.copyfile(src, tmp)  # a copy: the library may be another disk, or shared
            os.replace(tmp, dst)
        doc = {**sidecar, "files": names}
        write_json(self.root / f"{name}{SIDECAR}", doc)
        return [f"{e}={n}" for e, n in names.items()]

    def files(self, recorded: list[str]) -> dict[str, Path]:
        return {e: self.root / n for e, n in (r.split("=", 1) for r in recorded)}

    def unpublish(self, name: str, recorded: list[str]) -> None:
        (self.root / f"{name}{SIDECAR}").unlink(missing_ok=True)
        for path in self.files(recorded).values():
            path.unlink(missing_ok=True)
