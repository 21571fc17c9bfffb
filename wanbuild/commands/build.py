"""`wanbuild build [EFFECT...]`: the dataset zips the service documents, in build/<effect>/."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.config.load import display, load_effect
from wanbuild.dataset.builder import BuildRefused, build_effect
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.store import Store


def build(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    strict: bool,
) -> int:
    failed = False
    for effect_dir in effect_dirs:
        try:
            loaded = load_effect(effect_dir, overrides)
            e = loaded.effect
            print(
                f"{display(effect_dir)}: {e.kind} dataset for {e.model.name} in {e.region.name}",
                file=out,
            )
            result = build_effect(
                loaded,
                Store.for_project(loaded.project),
                strict=strict,
                report=lambda line: print(f"  fit {line}", file=out),
            )
        except BuildRefused as refused:
            failed = True
            for f in refused.findings:
                print(f.render(), file=out)
            print(f"{display(effect_dir)}: not built: {refused}", file=out)
            continue
        except WanbuildError as err:
            failed = True
            for line in str(err).splitlines():
                print(f"error: {line}", file=out)
            continue
        for f in result.findings:
            if "build fits it" not in f.message:  # the fit lines above say the same
                print(f"  {f.render()}", file=out)
        state = "up to date" if result.up_to_date else "built"
        for _split, (path, sha, size, n) in sorted(result.zips.items()):
            print(
                f"  {display(path)}: {n} entries, {size / 1_048_576:.2f} MB, sha256 {sha[:16]}",
                file=out,
            )
        print(f"{display(effect_dir)}: {state}, fingerprint {result.fingerprint[:16]}", file=out)
    return EXIT_ERROR if failed else EXIT_OK
