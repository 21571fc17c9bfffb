"""`wanbuild build [EFFECT...]`: the dataset zips the service documents, in build/<effect>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from wanbuild.config.load import display, find_conf_dir, load_effect, project_root
from wanbuild.dataset import plan_cache
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.store import Store

if TYPE_CHECKING:
    from wanbuild.dataset.builder import Built


def build(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    strict: bool,
) -> int:
    failed = False
    extra = [*overrides, *(["--strict"] if strict else [])]
    keys = plan_cache.StatKeys(extra)
    plan_keys = plan_cache.StatKeys(overrides)  # what plan and apply look up
    for effect_dir in effect_dirs:
        project = project_root(effect_dir)
        store = Store.for_project(project)
        directory = effect_dir.resolve()
        build_dir = project / "build" / directory.name
        conf_dir = find_conf_dir(effect_dir)
        stat_key = keys.key(directory, conf_dir, build_dir)
        remembered = _last_build(store, effect_dir)
        if remembered.get("key") == stat_key:  # no input and no output changed since
            print(
                f"{display(effect_dir)}: up to date (unchanged since the last build), "
                f"fingerprint {str(remembered.get('fingerprint'))[:16]}",
                file=out,
            )
            continue
        # imported here: a build of unchanged effects never loads the builder (nor PyAV)
        from wanbuild.dataset.builder import BuildRefused, build_effect
        from wanbuild.dataset.desired import desired_from

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
        _remember_build(store, effect_dir, keys.key(directory, conf_dir, build_dir), result)
        # what was just built is the desired state the next plan or apply starts from
        plan_cache.save(
            store.root,
            directory,
            plan_keys.key(directory, conf_dir, build_dir),
            plan_cache.planned(loaded, desired_from(loaded, result)),
        )
    return EXIT_ERROR if failed else EXIT_OK


def _record(store: Store, effect_dir: Path) -> Path:
    return store.root / "cache" / "build" / f"{effect_dir.resolve().name}.json"


def _last_build(store: Store, effect_dir: Path) -> dict[str, Any]:
    try:
        doc = json.loads(_record(store, effect_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _remember_build(store: Store, effect_dir: Path, key: str, result: Built) -> None:
    """The stat key of a successful build: the next build skips the effect while it holds."""
    path = _record(store, effect_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"key": key, "fingerprint": result.fingerprint}
    path.write_text(json.dumps(doc), encoding="utf-8")
