"""`wanbuild plan [EFFECT...]`: what apply would do, and why. Exit 0: nothing to change;
2: changes; 1: an error. `--format text|markdown|json`, `--out plan.json` saves it for
`wanbuild apply plan.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands.session import Session, desired_digest, observed_digest, open_session
from wanbuild.core.actions import EffectPlan
from wanbuild.core.plan import plan
from wanbuild.core.render import plan_document, render_json, render_markdown, render_text
from wanbuild.errors import EXIT_CHANGES, EXIT_OK


def make_plans(
    session: Session, *, retry_failed: bool = False
) -> tuple[list[EffectPlan], dict[str, Any]]:
    plans: list[EffectPlan] = []
    details: dict[str, dict[str, Any]] = {}
    for item in session.items:
        d = item.desired
        observed = item.observe()
        plans.append(plan(d, observed, retry_failed=retry_failed))
        details[d.effect] = {
            "path": item.effect_file.removesuffix("/effect.yaml"),
            "target": d.target,
            "desired": desired_digest(d),
            "observed": observed_digest(observed),
            "fitted": list(d.fitted),
        }
    return plans, details


def plan_command(
    effect_dirs: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    fmt: str,
    save: Path | None,
    retry_failed: bool,
    since: str | None = None,
) -> int:
    changed = False
    if since is not None and fmt != "json":  # a pull request: what changed, then what apply does
        from wanbuild.commands.diff import diff_command

        names = [Path(d).resolve().name for d in effect_dirs]
        changed = diff_command([since], names, out, fmt=fmt, sheets_dir=None) != EXIT_OK
        print(file=out)
    session = open_session(effect_dirs, overrides, out, build=True, write=False)
    try:  # closed before the run's last line, whatever happens: no retry line comes after it
        plans, details = make_plans(session, retry_failed=retry_failed)
        header = "; ".join(session.headers)
        document = plan_document(plans, header, details)
        fitted = {name: tuple(d["fitted"]) for name, d in details.items()}
        if fmt == "json":
            print(render_json(document), file=out)
        elif fmt == "markdown":
            print(render_markdown(plans, header, fitted), file=out)
        else:
            print(render_text(plans, header, fitted), file=out)
        if since is not None and fmt == "markdown":
            trained = [p.effect for p in plans if any(a.kind.value == "train" for a in p.actions)]
            if trained:
                print(
                    "\nOnce trained, compare the checkpoints by looking: "
                    + ", ".join(f"`wanbuild review effects/{e}`" for e in trained)
                    + " (`--format png` for a contact sheet; the workflow attaches both).",
                    file=out,
                )
        if save is not None:
            save.write_text(render_json(document) + "\n", encoding="utf-8")
            if fmt == "text":
                print(f"saved to {save}; apply it with `wanbuild apply {save}`", file=out)
    finally:
        session.close()
    return EXIT_CHANGES if changed or any(p.changes for p in plans) else EXIT_OK
