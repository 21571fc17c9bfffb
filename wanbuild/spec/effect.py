"""The effect spec: what the user declared, composed and validated (pydantic, unknown keys fail).

`Effect` is built by wanbuild.config.load from conf/ + effect.yaml + samples.yaml + overrides.
Everything here is a frozen value; nothing reads files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wanbuild.spec.endpoint import Backend, Region
from wanbuild.spec.kinds import Kind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ImageLimits(_Strict):
    formats: tuple[str, ...]
    max_width: int
    max_height: int
    max_bytes: int | None
    recommended_max_side: int | None = None


class VideoLimits(_Strict):
    containers: tuple[str, ...]
    max_width: int
    max_height: int
    max_bytes: int | None
    max_duration_s: float


class Limits(_Strict):
    min_samples: int | None
    recommended_samples: int
    max_zip_bytes: int
    max_jsonl_bytes: int
    file_name_pattern: str
    max_images: int | None
    max_videos: int | None
    image: ImageLimits
    video: VideoLimits | None


class LocalFacts(_Strict):
    """An open-weights model the local backend trains (diffusers layout)."""

    fps: float  # the frame rate the model was trained at, and its clips are read at
    two_experts: bool = False  # Wan 2.2 A14B: transformer (high noise) + transformer_2
    frame_step: int = 4  # num_frames is frame_step * k + 1 (the VAE's temporal compression)
    spatial_multiple: int = 16  # width and height are multiples of this (VAE x patch)
    trains: bool = True  # False: in the catalog, but the local trainer does not train it yet


class ModelSpec(_Strict):
    name: str
    kinds: tuple[Kind, ...]
    kind_parameter: str | None = None
    regions: tuple[str, ...]
    training_type: str
    hyper_parameter_schema: str
    hyper_parameter_bounds: dict[str, dict[str, Any]] = {}
    min_total_steps: int
    min_total_steps_required: bool = False  # an error, not a recommendation
    tokens_per_step: dict[str, int] | None = None
    price_cny_per_1k_tokens: float | None = None
    limits: dict[str, Limits]
    # open-weights models: the local backend's facts, and the weights' directory
    local: LocalFacts | None = None
    weights: str | None = None


class AigcConfig(_Strict):
    use_input_prompt: bool = False
    prompt: str | None = None
    lora_prompt_default: str | None = None


class Deploy(_Strict):
    capacity: int = Field(1, ge=0, lt=1000)
    checkpoint: str | None = Field(None, pattern=r"^checkpoint-[0-9]+$")
    aigc_config: AigcConfig = Field(default_factory=AigcConfig)
    words: dict[str, str] = {}


class Sample(_Strict):
    id: str
    # None (left out, or `from: video`): cut from the sample's clip where it has one
    first_frame: str | None = None
    last_frame: str | None = None
    video: str | None = None
    image: str | None = None
    input_image: str | None = None
    subject: str = ""
    background: str = ""
    distractors: str | None = None
    words: dict[str, str] = {}
    # a caption drafted by `wanbuild caption`: the model, and the digest of the words it
    # wrote, so that the draft is known as unreviewed until a person changes them
    draft: CaptionDraft | None = None

    @field_validator("first_frame", "last_frame", mode="before")
    @classmethod
    def _from_clip(cls, value: Any) -> Any:
        if isinstance(value, dict) and value == {"from": "video"}:
            return None
        return value


class CaptionDraft(_Strict):
    by: str
    sha256: str


class Samples(_Strict):
    train: tuple[Sample, ...] = ()
    # Empty: the service splits a validation set off the training set.
    validation: tuple[Sample, ...] = ()


class Effect(_Strict):
    """One effect, fully composed. `directory` is absolute; media paths are relative to it."""

    name: str
    directory: Path
    model: ModelSpec
    region: Region
    backend: Backend
    trigger: str
    effect: str
    hyper_parameters: dict[str, Any]
    deploy: Deploy
    samples: Samples

    @property
    def kind(self) -> Kind:
        if len(self.model.kinds) == 1 or self.model.kind_parameter is None:
            return self.model.kinds[0]
        chosen = self.hyper_parameters.get(self.model.kind_parameter, self.model.kinds[0])
        return chosen if chosen in self.model.kinds else self.model.kinds[0]

    @property
    def limits(self) -> Limits | None:
        return self.model.limits.get(self.region.name)
