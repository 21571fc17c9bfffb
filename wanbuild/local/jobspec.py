"""What a local training job is: job.json, written once by the service when the job is
created, read by its worker. No torch here: the service writes it, the worker reads it."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the experts of the diffusers layout: `transformer` (high noise), `transformer_2` (low noise)
EXPERT_MODULES = ("transformer", "transformer_2")
EXPERTS = {
    "high_noise": ("transformer",),
    "low_noise": ("transformer_2",),
    "both": EXPERT_MODULES,
}
JOB = "job.json"


@dataclass(frozen=True)
class TrainSample:
    id: str
    prompt: str
    video: Path
    sha256: str


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    job_name: str
    model: str
    weights: Path
    hp: dict[str, Any]
    fps: float
    two_experts: bool
    data_dir: Path  # the job's dataset, unpacked: data.jsonl and clips
    validation: list[str]
    cache_dir: Path
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.hp.get("seed", 0))

    @property
    def experts(self) -> tuple[str, ...]:
        if not self.two_experts:
            return ("transformer",)
        return EXPERTS[str(self.hp.get("experts", "both"))]

    def train_samples(self) -> list[TrainSample]:
        out = []
        lines = (self.data_dir / "data.jsonl").read_text(encoding="utf-8").splitlines()
        sums = json.loads((self.data_dir / "sha256.json").read_text(encoding="utf-8"))
        for line in lines:
            row = json.loads(line)
            name = row["video_path"]
            out.append(
                TrainSample(Path(name).stem, row["prompt"], self.data_dir / name, sums[name])
            )
        return out

    def lora_metadata(self, expert: str) -> dict[str, str]:
        """The safetensors header's metadata of an exported LoRA (strings only)."""
        return {
            **self.metadata,
            "wanbuild.expert": expert,
            "wanbuild.base_model": self.model,
            "wanbuild.job": self.job_name,
            "wanbuild.lora_rank": str(self.hp["lora_rank"]),
            "wanbuild.lora_alpha": str(self.hp["lora_alpha"]),
            "wanbuild.format": "wan (diffusion_model.blocks.N.self_attn.q.lora_A.weight)",
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "model": self.model,
            "weights": str(self.weights),
            "hyper_parameters": self.hp,
            "fps": self.fps,
            "two_experts": self.two_experts,
            "data_dir": str(self.data_dir),
            "validation": self.validation,
            "cache_dir": str(self.cache_dir),
            "metadata": self.metadata,
        }

    @classmethod
    def read(cls, job_dir: Path) -> JobSpec:
        d = json.loads((job_dir / JOB).read_text(encoding="utf-8"))
        return cls(
            d["job_id"],
            d["job_name"],
            d["model"],
            Path(d["weights"]),
            dict(d["hyper_parameters"]),
            float(d["fps"]),
            bool(d["two_experts"]),
            Path(d["data_dir"]),
            list(d["validation"]),
            Path(d["cache_dir"]),
            dict(d.get("metadata") or {}),
        )


def unpack(train_zip: Path, out: Path) -> None:
    """The training zip's data.jsonl and clips into `out`, with each entry's sha256 (what the
    encode cache is keyed by). Entry names are the builder's ([A-Za-z0-9_-] names)."""
    import hashlib

    out.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    with zipfile.ZipFile(train_zip) as z:
        for info in z.infolist():
            name = info.filename
            if name.endswith("/") or ".." in Path(name).parts or name.startswith("/"):
                continue
            data = z.read(info)
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
            sums[name] = hashlib.sha256(data).hexdigest()
    (out / "sha256.json").write_text(json.dumps(sums, sort_keys=True), encoding="utf-8")


def validation_prompts(valid_zip: Path | None) -> list[str]:
    if valid_zip is None:
        return []
    with zipfile.ZipFile(valid_zip) as z:
        text = z.read("data.jsonl").decode("utf-8")
    return [json.loads(line)["prompt"] for line in text.splitlines() if line.strip()]
