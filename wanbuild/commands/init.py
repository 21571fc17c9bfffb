"""`wanbuild init effects/NAME --model M`: scaffold an effect that validates once media exist."""

from __future__ import annotations

import json
import math
import secrets
import string
from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands import init_from
from wanbuild.config.catalog import load_catalog
from wanbuild.config.load import display, find_conf_dir
from wanbuild.core.names import effect_name_problem
from wanbuild.core.steps import min_epochs_for, schedule, split_sizes
from wanbuild.dataset.preflight import is_english_word
from wanbuild.errors import EXIT_OK, ConfigError
from wanbuild.spec.effect import ModelSpec
from wanbuild.spec.kinds import is_video_kind
from wanbuild.versioning.pipeline import add_build_stage, find_pipeline, track_media

# Kind-specific hyperparameters the scaffold writes (the reference's i2i recommendations).
KIND_HYPER_PARAMETERS: dict[str, dict[str, str]] = {
    "i2i": {"max_pixels": "1k", "val_img_size": "1k", "max_token_length": "1k"},
}
MEDIA_NAMES: dict[str, dict[str, str]] = {
    "i2v": {"first_frame": "{id}.jpg", "video": "{id}.mp4"},
    "kf2v": {"first_frame": "{id}_first.jpg", "last_frame": "{id}_last.jpg", "video": "{id}.mp4"},
    "t2i": {"image": "{id}.jpg"},
    "i2i": {"input_image": "{id}_in.jpg", "image": "{id}_out.jpg"},
    "t2v": {"video": "{id}.mp4"},
}


def new_trigger() -> str:
    alphabet = string.ascii_lowercase + string.digits
    while True:
        token = secrets.choice(string.ascii_lowercase) + "".join(
            secrets.choice(alphabet) for _ in range(5)
        )
        if any(c.isdigit() for c in token) and not is_english_word(token):
            return token


def init(
    path: Path,
    *,
    model: str | None,
    region: str | None,
    kind: str | None,
    trigger: str | None,
    out: TextIO,
    source: Path | None = None,
    move: bool = False,
    dry_run: bool = False,
) -> int:
    problem = effect_name_problem(path.resolve().name)
    if problem:
        raise ConfigError(f"{display(path)}: the effect name {problem}")
    if (move or dry_run) and source is None:
        raise ConfigError("--move and --dry-run go with --from DIR")
    if source is not None and (path / "effect.yaml").is_file():
        return _add_from(path, source, move=move, dry_run=dry_run, out=out)
    if path.exists() and any(path.iterdir()):
        raise ConfigError(f"{display(path)}: already exists and is not empty")
    if model is None:
        raise ConfigError(f"{display(path)}: a new effect needs --model (e.g. --model wan2.6-i2v)")
    catalog = load_catalog(find_conf_dir(path.parent if path.parent.exists() else Path.cwd()))
    if model not in catalog.models:
        known = sorted(catalog.models)
        raise ConfigError(f"--model {model}: unknown model; known: {', '.join(known)}")
    spec = catalog.models[model].spec
    region = region or spec.regions[0]
    if region not in spec.regions:
        raise ConfigError(f"--region {region}: {model} trains in {', '.join(spec.regions)} only")
    kind = kind or spec.kinds[0]
    if kind not in spec.kinds:
        raise ConfigError(f"--kind {kind}: {model} trains {', '.join(spec.kinds)}")
    limits = spec.limits[region]
    found = None
    if source is not None:
        found = init_from.scan(source, kind, set(), {})
        init_from.report(found, source, kind, out)
        if not found.samples:
            raise ConfigError(f"--from {display(source)}: no {kind} media in it; nothing made")
        if dry_run:
            print(f"would create {display(path)} with these samples (--dry-run)", file=out)
            return EXIT_OK
    count = len(found.samples) if found else limits.min_samples or limits.recommended_samples
    hp: dict[str, object] = dict(KIND_HYPER_PARAMETERS.get(kind, {}))
    if spec.kind_parameter and kind != spec.kinds[0]:
        hp = {spec.kind_parameter: kind, **hp}
    hp.update(_epochs_for_the_floor(catalog.models[model].defaults, kind, count, spec))
    path.mkdir(parents=True, exist_ok=True)
    (path / "media").mkdir(exist_ok=True)
    (path / "effect.yaml").write_text(
        _effect_yaml(
            model, region, kind, trigger or new_trigger(), hp, local=spec.local is not None
        ),
        encoding="utf-8",
    )
    entries = [s.entry(kind) for s in found.samples] if found else None
    (path / "samples.yaml").write_text(_samples_yaml(kind, count, entries), encoding="utf-8")
    pipeline = find_pipeline(path.parent if path.parent.exists() else Path.cwd())
    if pipeline is not None:
        problem = add_build_stage(pipeline, path)
        print(problem or f"added build@{path.name} to {display(pipeline)}", file=out)
    if found is not None:
        init_from.place(found, path, move=move, out=out)
        print(track_media(init_from.project_of(path), path.resolve() / "media"), file=out)
        print(f"created {display(path)} ({kind} on {model} in {region}, {count} samples)", file=out)
        _next_steps(path, out)
        return EXIT_OK
    names = ", ".join(MEDIA_NAMES[kind].values())
    print(
        f"created {display(path)} ({kind} on {model} in {region}, {count} sample slots)", file=out
    )
    print(
        f"next: put media in {display(path / 'media')} ({names} per sample), describe each "
        f"sample in samples.yaml, then `wanbuild validate {display(path)}`",
        file=out,
    )
    return EXIT_OK


def _add_from(path: Path, source: Path, *, move: bool, dry_run: bool, out: TextIO) -> int:
    """The files of `source` not in the effect yet, appended as new samples."""
    from wanbuild.config.load import load_effect
    from wanbuild.config.yaml_edit import append_train

    effect = load_effect(path, []).effect
    taken = {s.id for s in (*effect.samples.train, *effect.samples.validation)}
    found = init_from.scan(source, effect.kind, taken, init_from.existing_media(path))
    init_from.report(found, source, effect.kind, out)
    if dry_run or not found.samples:
        print(
            f"would add {len(found.samples)} sample(s) to {display(path)} (--dry-run)"
            if dry_run
            else f"{display(path)}: nothing new to add",
            file=out,
        )
        return EXIT_OK
    init_from.place(found, path, move=move, out=out)
    append_train(path / "samples.yaml", [s.entry(effect.kind) for s in found.samples])
    print(f"added {len(found.samples)} sample(s) to {display(path / 'samples.yaml')}", file=out)
    print(track_media(init_from.project_of(path), path.resolve() / "media"), file=out)
    _next_steps(path, out)
    return EXIT_OK


def _next_steps(path: Path, out: TextIO) -> None:
    print(
        f"next: `wanbuild caption {display(path)}` drafts the captions (check each one), "
        f"then `wanbuild validate {display(path)}`",
        file=out,
    )


def _epochs_for_the_floor(
    defaults: dict[str, Any], kind: str, count: int, spec: ModelSpec
) -> dict[str, int]:
    """Video: n_epochs (and eval_epochs, which must stay >= n_epochs/10) that reach the step
    floor with the scaffold's own sample count, so the scaffold validates as written."""
    if not is_video_kind(kind):
        return {}
    sizes = split_sizes(count, 0, defaults)
    sched = schedule(True, sizes, defaults)
    if sched.total_steps >= spec.min_total_steps or not sched.steps_per_epoch:
        return {}
    epochs = min_epochs_for(spec.min_total_steps, sched.steps_per_epoch)
    every = max(int(defaults.get("eval_epochs") or 0), math.ceil(epochs / 10))
    return {"n_epochs": epochs, "eval_epochs": every}


def _effect_yaml(
    model: str, region: str, kind: str, trigger: str, hp: dict[str, object], *, local: bool = False
) -> str:
    video = is_video_kind(kind)
    template = (
        "Then the {trigger} effect begins, <describe the motion, worded the same for every "
        "sample; use {they}/{them}/{their} where it refers to the subject>."
        if video
        else "<describe the style or change, worded the same for every sample>"
    )
    hp_lines = "".join(f"  {k}: {v}\n" for k, v in hp.items()) or ""
    hp_block = f"hyper_parameters:\n{hp_lines}" if hp_lines else "hyper_parameters: {}\n"
    aigc = (
        (
            "  # Video only. Left null, both are compiled from `effect`; see show-prompts.\n"
            "  aigc_config:\n"
            "    use_input_prompt: false\n"
            "    prompt: null\n"
            "    lora_prompt_default: null\n"
        )
        if video
        else ""
    )
    trigger_note = (
        "# The effect description, identical in every prompt. {trigger} marks the trigger; other\n"
        "# {slots} are filled per sample from its `words` (e.g. pronouns).\n"
        if video
        else "# The style description, identical in every prompt (prompts lead with the trigger).\n"
    )
    return (
        "# An effect: what to train and how to deploy it. `wanbuild validate` checks it;\n"
        "# command-line overrides (key=value) take precedence over everything here.\n"
        "defaults:\n"
        "  - config                      # conf/config.yaml: the base every effect shares\n"
        f"  - override model: {model}\n"
        f"  - override region: {region}\n"
        + (
            "  - override backend: local      # trained on this machine's GPUs (docs/local.md)\n"
            if local
            else ""
        )
        + "  - _self_                      # this file's values win over the model's defaults\n"
        "\n"
        "# A rare token with no meaning (letters and digits); it appears in every prompt.\n"
        f"trigger: {trigger}\n"
        f"{trigger_note}"
        f'effect: "{template}"\n'
        "\n"
        + (
            "# The open weights in the diffusers layout, never downloaded: a directory, absolute\n"
            "# or relative to the project root (or model.weights=... on the command line).\n"
            "model:\n"
            "  weights: null\n\n"
            if local
            else ""
        )
        + f"# Overrides of {model}'s defaults (conf/model/{model}.yaml).\n"
        f"{hp_block}"
        "\n"
        "deploy:\n"
        "  capacity: 1\n"
        "  # null deploys the final model; checkpoint-N exports and deploys that checkpoint.\n"
        "  checkpoint: null\n"
        f"{aigc}"
    )


def _samples_yaml(kind: str, count: int, entries: list[dict[str, Any]] | None = None) -> str:
    video = is_video_kind(kind)
    lines = [
        "# One entry per sample. Media paths are relative to this directory (keep media under",
        "# media/, tracked by DVC). Captions: subject + background; the compiler adds the trigger",
        "# and the effect text. `distractors` (training only) describes incidental changes the",
        "# model should not learn.",
    ]
    if kind in ("i2v", "kf2v"):
        lines.append(
            "# A clip's first frame (and kf2v's last frame) may be left out: build cuts it "
            "from the clip."
        )
    lines.append("train:")
    for entry in entries or []:
        lines.append(f"  - id: {entry['id']}")
        for key, value in entry.items():
            if key == "words":
                words = ", ".join(f"{k}: {v}" for k, v in value.items())
                lines.append(f"    words: {{{words}}}")
            elif key != "id":
                lines.append(f"    {key}: {json.dumps(value, ensure_ascii=False)}")
    for n in range(1, count + 1 if entries is None else 0):
        sid = f"sample_{n:02d}"
        lines.append(f"  - id: {sid}")
        for key, pattern in MEDIA_NAMES[kind].items():
            lines.append(f"    {key}: media/{pattern.format(id=sid)}")
        if kind != "i2i":
            lines.append(f'    subject: "<describe the subject of {sid}>"')
        lines.append(f'    background: "<describe the background of {sid}>"')
        if video:
            lines.append("    words: {they: she, them: her, their: her}")
    lines += [
        "# Validation entries (no videos or target images): an empty list lets the service split",
        "# a validation set off the training samples.",
        "validation: []",
        "",
    ]
    return "\n".join(lines)
