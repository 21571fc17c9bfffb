"""`wanbuild show-prompts EFFECT`: every prompt the model will learn from, and the deployed
aigc_config, compiled from the one effect template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from wanbuild.config.load import load_effect
from wanbuild.core import prompts
from wanbuild.errors import EXIT_OK, ConfigError


def show_prompts(
    effect_dirs: list[Path], overrides: list[str], out: TextIO, *, as_json: bool
) -> int:
    documents = []
    for effect_dir in effect_dirs:
        loaded = load_effect(effect_dir, overrides)
        try:
            compiled = prompts.compile_effect(loaded.effect)
        except prompts.TemplateError as e:
            raise ConfigError(f"{loaded.effect_file}: effect: {e}") from None
        aigc = compiled.aigc_config.model_dump() if compiled.aigc_config else None
        doc: dict[str, Any] = {
            "effect": loaded.effect.name,
            "kind": loaded.effect.kind,
            "effect_text": compiled.effect_text,
            "train": [{"id": p.sample_id, "prompt": p.prompt} for p in compiled.train],
            "validation": [{"id": p.sample_id, "prompt": p.prompt} for p in compiled.validation],
            "aigc_config": aigc,
        }
        documents.append(doc)
        if not as_json:
            _print_text(doc, out)
    if as_json:
        print(json.dumps(documents, ensure_ascii=False, indent=2), file=out)
    return EXIT_OK


def _print_text(doc: dict[str, Any], out: TextIO) -> None:
    print(f"# {doc['effect']} ({doc['kind']})", file=out)
    print(f"effect text: {doc['effect_text']}", file=out)
    for split in ("train", "validation"):
        items = doc[split]
        assert isinstance(items, list)
        print(f"\n## {split} ({len(items) or 'auto split from train'})", file=out)
        for item in items:
            print(f"[{item['id']}] {item['prompt']}", file=out)
    aigc = doc["aigc_config"]
    print("\n## deployment aigc_config", file=out)
    if not isinstance(aigc, dict):
        print("(none: image deployments take no aigc_config)", file=out)
    else:
        print(f"use_input_prompt: {str(aigc['use_input_prompt']).lower()}", file=out)
        print(f"lora_prompt_default: {aigc['lora_prompt_default']}", file=out)
        print(f"prompt:\n{aigc['prompt']}", file=out)
    print(file=out)
