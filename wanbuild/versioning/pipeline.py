"""Keep the root dvc.yaml's `build` stage list in step with the effects (`wanbuild init`).

The file is edited round-trip (ruamel.yaml), so its comments and layout survive.
"""

from __future__ import annotations

import os
from pathlib import Path

BUILD_STAGE = "build"


def find_pipeline(start: Path) -> Path | None:
    for d in (start.resolve(), *start.resolve().parents):
        if (d / "dvc.yaml").is_file():
            return d / "dvc.yaml"
    return None


def add_build_stage(pipeline: Path, effect_dir: Path) -> str | None:
    """Add the effect to the build stage's foreach list; returns why not, or None when done."""
    from ruamel.yaml import YAML

    rel = (
        effect_dir.resolve().relative_to(pipeline.parent.resolve())
        if effect_dir.resolve().is_relative_to(pipeline.parent.resolve())
        else None
    )
    if rel is None or rel.parent != Path("effects"):
        return f"{effect_dir} is not under effects/ next to {pipeline}; add its stage by hand"
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(pipeline.read_text(encoding="utf-8"))
    stage = (doc or {}).get("stages", {}).get(BUILD_STAGE)
    if stage is None or not isinstance(stage.get("foreach"), list):
        return f"{pipeline} has no `{BUILD_STAGE}` stage with a foreach list; add the stage by hand"
    names = stage["foreach"]
    if rel.name not in names:
        names.append(rel.name)
        with pipeline.open("w", encoding="utf-8") as f:
            yaml.dump(doc, f)
    return None


def track_media(project: Path, media_dir: Path) -> str:
    """`dvc add` the effect's media directory, as the demo effects' media are tracked; what
    was done, or why not and how to do it by hand."""
    import subprocess
    import sys

    shown = media_dir.relative_to(project) if media_dir.is_relative_to(project) else media_dir
    if not (project / ".dvc").is_dir():
        return (
            f"{shown} is not DVC-tracked: no DVC repository here "
            f"(`dvc init`, then `dvc add {shown}`)"
        )
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "add", "--quiet", str(shown)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["dvc add failed"])[-1]
        return f"{shown} is not DVC-tracked ({why}); `dvc add {shown}` by hand"
    return f"{shown} tracked by DVC ({shown}.dvc): commit it, then `dvc push`"
