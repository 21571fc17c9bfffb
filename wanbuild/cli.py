"""The command line: parse argv, dispatch to one command, map errors to exit codes.

Every command takes effect directories (default: all under effects/) and trailing Hydra-style
overrides (`key=value`, `+key=value`, `~key`), in any order after the verb.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from wanbuild.error_handler import Exit, error_handler
from wanbuild.errors import ConfigError

EFFECTS_ROOT = Path("effects")


def _is_override(arg: str) -> bool:
    return "=" in arg or arg.startswith(("+", "~"))


def split_targets(
    args: Sequence[str], found: list[Path] | None = None
) -> tuple[list[Path], list[str]]:
    """(effect directories, overrides) from the positional arguments; the directories are
    `found` when a caller already has them."""
    return found or _effect_paths(args), [a for a in args if _is_override(a)]


def _effect_paths(args: Sequence[str]) -> list[Path]:
    from wanbuild.config.places import discover_effects, project_root

    paths = [Path(a) for a in args if not _is_override(a)]
    # from anywhere inside the project: its effects/, not the working directory's
    return paths or discover_effects(project_root(Path.cwd()) / EFFECTS_ROOT)


class _Version(argparse.Action):
    """--version: computed when asked (it loads PyAV), never for another command."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        from wanbuild.commands.version import print_version

        print_version()
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wanbuild",
        description="Declarative LoRA fine-tunes of Wan models on Alibaba Model Studio.",
    )
    p.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="wanbuild, Python and the libraries that decide what it builds, then exit",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="check effects against the service's rules; no upload")
    v.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    v.add_argument(
        "--strict",
        action="store_true",
        help="media outside the limits are errors, not fitted by build",
    )

    b = sub.add_parser("build", help="build the dataset zips into build/<effect>/")
    b.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    b.add_argument(
        "--strict",
        action="store_true",
        help="refuse media outside the limits instead of fitting them",
    )

    pl = sub.add_parser("plan", help="show what apply would do (exit 0: nothing, 2: changes)")
    pl.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    pl.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    pl.add_argument("--out", type=Path, default=None, help="save the plan as JSON for apply")
    pl.add_argument(
        "--since",
        default=None,
        metavar="REV",
        help="first show what changed since REV (`wanbuild diff REV`): a pull request's view",
    )
    pl.add_argument(
        "--retry-failed",
        action="store_true",
        help="plan a new job where the last one failed or was cancelled",
    )

    ap = sub.add_parser("apply", help="make the remote match the effects")
    ap.add_argument("targets", nargs="*", metavar="EFFECT|PLAN.json|OVERRIDE")
    ap.add_argument("--wait", action="store_true", help="keep going until every effect matches")
    ap.add_argument(
        "--yes", action="store_true", help="do not ask before changing the real service"
    )
    ap.add_argument(
        "--retry-failed",
        action="store_true",
        help="train again where the last job failed or was cancelled",
    )
    ap.add_argument("--poll", type=float, default=None, help="seconds between looks while waiting")
    ap.add_argument(
        "--forget-pending",
        action="store_true",
        help="after checking the console: creates whose replies were lost made nothing",
    )
    ap.add_argument(
        "--lock-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for another apply of the same effect",
    )

    ad = sub.add_parser(
        "adopt", help="record a job, deployment or file on the service as the effect's own"
    )
    ad.add_argument("effect", type=Path, metavar="EFFECT")
    ad.add_argument("remote_id", metavar="ID", help="job id, deployed_model or file id")
    ad.add_argument("targets", nargs="*", metavar="OVERRIDE")

    cp = sub.add_parser(
        "caption", help="draft the placeholder captions with a vision-language model (Qwen-VL)"
    )
    cp.add_argument("effect", type=Path, metavar="EFFECT")
    cp.add_argument("targets", nargs="*", metavar="OVERRIDE")
    cp.add_argument("--model", default="qwen3-vl-plus", help="the vision-language model")
    cp.add_argument("--yes", action="store_true", help="do not ask before calling the service")

    rv = sub.add_parser("review", help="the checkpoints side by side: a static page, or a PNG")
    rv.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    rv.add_argument("--format", choices=["html", "png"], default="html")
    rv.add_argument(
        "--sheet", action="store_const", const="png", dest="format", help="= --format png"
    )
    rv.add_argument("--golden", action="store_true", help="first render with the live deployment")
    rv.add_argument("--yes", action="store_true", help="do not ask before billed renders")
    rv.add_argument("--poll", type=float, default=2.0, help="seconds between looks at a render")

    pn = sub.add_parser("pin", help="deploy.checkpoint: checkpoint-N in effect.yaml (or --final)")
    pn.add_argument("effect", type=Path, metavar="EFFECT")
    pn.add_argument("checkpoint", nargs="?", default=None, metavar="checkpoint-N")
    pn.add_argument("targets", nargs="*", metavar="OVERRIDE")
    pn.add_argument("--final", action="store_true", help="deploy the job's final model again")

    un = sub.add_parser(
        "unlock", help="break an effect's lease on the git remote (as terraform force-unlock)"
    )
    un.add_argument("effect", type=Path, metavar="EFFECT")
    un.add_argument("--remote", default="origin", help="the git remote holding the lease")
    un.add_argument("--yes", action="store_true", help="do not ask")

    df = sub.add_parser(
        "diff", help="what changed in each effect between two revisions, and its consequence"
    )
    df.add_argument(
        "revs",
        nargs="*",
        metavar="REV",
        help="BASE (default: merge-base with the default branch) and HEAD (default: the "
        "working tree)",
    )
    df.add_argument("--effect", action="append", default=[], help="only this effect (repeatable)")
    df.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    df.add_argument(
        "--sheets", type=Path, default=None, help="where contact sheets go (.wanbuild/diff)"
    )

    rp = sub.add_parser(
        "reproduce", help="rebuild REV's dataset, verify it, and train it again as it was"
    )
    rp.add_argument("rev", metavar="REV")
    rp.add_argument("effect", type=Path, metavar="EFFECT")
    rp.add_argument("targets", nargs="*", metavar="OVERRIDE")
    rp.add_argument("--dry-run", action="store_true", help="verify and show; create nothing")

    lg = sub.add_parser("log", help="what was live when (the history in wanbuild.lock)")
    lg.add_argument("targets", nargs="*", metavar="EFFECT")

    st = sub.add_parser("status", help="what is live and what is in progress")
    st.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")

    ck = sub.add_parser("checkpoints", help="the job's checkpoints and their previews")
    ck.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")

    tr = sub.add_parser("try", help="generate with the effect's live deployment")
    tr.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    tr.add_argument("--image", default=None, help="first frame / input image: a file or a URL")
    tr.add_argument("--last", default=None, help="last frame (kf2v)")
    tr.add_argument(
        "--prompt",
        default=None,
        help="the prompt (image and text-to-video effects; video with use_input_prompt)",
    )
    tr.add_argument("--poll", type=float, default=0.5)

    de = sub.add_parser("destroy", help="undeploy effects (optionally delete files and jobs)")
    de.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    de.add_argument("--yes", action="store_true")
    de.add_argument("--delete-files", action="store_true")
    de.add_argument("--delete-jobs", action="store_true")

    s = sub.add_parser("show-prompts", help="print the compiled prompts and aigc_config")
    s.add_argument("targets", nargs="*", metavar="EFFECT|OVERRIDE")
    s.add_argument("--json", action="store_true", help="machine-readable output")

    em = sub.add_parser("emulator", help="the local emulator of the Model Studio API")
    em_sub = em.add_subparsers(dest="emulator_command", required=True, metavar="ACTION")
    es = em_sub.add_parser("serve", help="serve the emulator over HTTP")
    es.add_argument("--host", default="127.0.0.1")
    es.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    es.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="simulated seconds per real second (default 3600, or $WANBUILD_EMULATOR_TIME_SCALE)",
    )
    es.add_argument("--state-dir", type=Path, default=Path(".wanbuild/emulator"))
    es.add_argument(
        "--region", default="cn-beijing", help="region for requests whose Host names none"
    )
    es.add_argument(
        "--faults",
        default=None,
        help="e.g. '429=0.2,500=0.1,seed=7' (default $WANBUILD_EMULATOR_FAULTS)",
    )
    es.add_argument(
        "--profile",
        default=None,
        help="typical (the docs' examples) or documented-minimum (the least helpful reading "
        "the docs allow); default $WANBUILD_EMULATOR_PROFILE or typical",
    )
    es.add_argument(
        "--api-key-env",
        default=None,
        metavar="VAR",
        help="accept only the key in this environment variable (401 InvalidApiKey otherwise)",
    )

    lo = sub.add_parser("local", help="the local backend's tools (backend=local)")
    lo_sub = lo.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    tm = lo_sub.add_parser(
        "tiny-model",
        help="a tiny random Wan 2.2 T2V model in the diffusers layout (tests, the demo)",
    )
    tm.add_argument("dir", type=Path, metavar="DIR")
    tm.add_argument("--seed", type=int, default=0)
    ex = lo_sub.add_parser(
        "export-dataset",
        help="an effect's built dataset for DiffSynth-Studio (metadata.csv) or musubi-tuner "
        "(dataset.toml + captions)",
    )
    ex.add_argument("effect", type=Path, metavar="EFFECT")
    ex.add_argument("out", type=Path, metavar="DIR")
    ex.add_argument("--format", choices=["diffsynth", "musubi"], required=True)

    i = sub.add_parser("init", help="scaffold a new effect directory")
    i.add_argument("path", type=Path, metavar="effects/NAME")
    i.add_argument("--model", default=None, help="required for a new effect")
    i.add_argument("--region", default=None, help="default: the first region the model trains in")
    i.add_argument("--kind", default=None, help="for models with several kinds (t2i|i2i, i2v|kf2v)")
    i.add_argument("--trigger", default=None, help="default: a fresh rare token")
    i.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        metavar="DIR",
        help="one sample per clip (or image) in DIR; on an existing effect, adds new files only",
    )
    i.add_argument("--move", action="store_true", help="move the media instead of copying")
    i.add_argument("--dry-run", action="store_true", help="say what --from would do; write nothing")
    return p


def entry() -> int:
    """The `wanbuild` process: main(), with the collector tuned for a process that keeps
    most of what it allocates to its end (modules, the state of every effect). At CPython's
    default (a young collection every 700 allocations) a no-op plan of 500 effects spent
    ~0.09 s scanning survivors, and the full collection at exit another ~0.07 s: what is left
    is frozen first (it is freed as the process ends all the same)."""
    gc.set_threshold(10_000, 10, 10)
    try:
        return main()
    finally:
        gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-") and not a.startswith("~")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    out = sys.stdout
    try:
        with error_handler():
            return _dispatch(args, [*getattr(args, "targets", []), *extra], out)
    except Exit as e:
        return e.code
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: argparse.Namespace, targets: list[str], stream: TextIO) -> int:
    if args.command in ("plan", "apply"):
        from wanbuild.dataset import statwalk

        effects = _effects_found(targets)
        # while the command's modules load; a process is worth it for many effects only
        with statwalk.ahead(lambda: _walked(effects), worth_it=len(effects) >= 8):
            return _command(args, targets, stream, effects)
    return _command(args, targets, stream)


def _effects_found(targets: list[str]) -> list[Path]:
    """The effects `targets` name; none if they cannot be told (the command then says why)."""
    try:
        return _effect_paths(targets)
    except ConfigError:
        return []


def _walked(effects: list[Path]) -> list[Path]:
    """The directories a plan or apply of `effects` takes stat keys of, named as its session
    names them (resolved)."""
    from wanbuild.config.places import find_conf_dir, project_root

    resolved = [p.resolve() for p in effects]
    projects = {parent: project_root(parent) for parent in {d.parent for d in resolved}}
    dirs = [find_conf_dir(resolved[0])] if resolved else []
    for d in resolved:
        dirs += [d, projects[d.parent] / "build" / d.name]
    return dirs


def _command(
    args: argparse.Namespace, targets: list[str], stream: TextIO, found: list[Path] | None = None
) -> int:
    """Run the command; `found`: the effects `targets` name, if already known."""
    if args.command == "validate":
        from wanbuild.commands.validate import validate

        return validate(*split_targets(targets), stream, strict=args.strict)
    if args.command == "build":
        from wanbuild.commands.build import build

        return build(*split_targets(targets), stream, strict=args.strict)
    if args.command == "plan":
        from wanbuild.commands.plan import plan_command

        return plan_command(
            *split_targets(targets, found),
            stream,
            fmt=args.format,
            save=args.out,
            retry_failed=args.retry_failed,
            since=args.since,
        )
    if args.command == "apply":
        from wanbuild.commands.apply import apply_command

        return apply_command(
            *split_targets(targets, found),
            stream,
            wait=args.wait,
            yes=args.yes,
            retry_failed=args.retry_failed,
            poll=args.poll,
            lock_timeout=args.lock_timeout,
            forget_pending=args.forget_pending,
        )
    if args.command == "adopt":
        from wanbuild.commands.adopt import adopt_command

        return adopt_command(args.effect, args.remote_id, targets, stream)
    if args.command == "caption":
        from wanbuild.commands.caption import caption_command

        return caption_command(args.effect, targets, stream, model=args.model, yes=args.yes)
    if args.command == "review":
        from wanbuild.commands.review import review_command

        return review_command(
            *split_targets(targets),
            stream,
            fmt=args.format,
            golden=args.golden,
            yes=args.yes,
            poll=args.poll,
        )
    if args.command == "pin":
        from wanbuild.commands.pin import pin_command

        return pin_command(args.effect, args.checkpoint, targets, stream, final=args.final)
    if args.command == "unlock":
        from wanbuild.commands.unlock import unlock_command

        if targets:
            raise ConfigError(f"unlock takes one effect: {' '.join(targets)}")
        return unlock_command(args.effect, args.remote, stream, yes=args.yes)
    if args.command == "diff":
        from wanbuild.commands.diff import diff_command

        return diff_command(args.revs, args.effect, stream, fmt=args.format, sheets_dir=args.sheets)
    if args.command == "reproduce":
        from wanbuild.commands.reproduce import reproduce_command

        return reproduce_command(args.rev, args.effect, targets, stream, dry_run=args.dry_run)
    if args.command == "log":
        from wanbuild.commands.log import log_command

        return log_command(split_targets(targets)[0], stream)
    if args.command == "status":
        from wanbuild.commands.status import status_command

        return status_command(*split_targets(targets), stream)
    if args.command == "checkpoints":
        from wanbuild.commands.checkpoints import checkpoints_command

        return checkpoints_command(*split_targets(targets), stream)
    if args.command == "try":
        from wanbuild.commands.try_effect import try_command

        return try_command(
            *split_targets(targets),
            stream,
            image=args.image,
            last=args.last,
            prompt=args.prompt,
            poll=args.poll,
        )
    if args.command == "destroy":
        from wanbuild.commands.destroy import destroy_command

        return destroy_command(
            *split_targets(targets),
            stream,
            yes=args.yes,
            delete_files=args.delete_files,
            delete_jobs=args.delete_jobs,
        )
    if args.command == "show-prompts":
        from wanbuild.commands.show_prompts import show_prompts

        return show_prompts(*split_targets(targets), stream, as_json=args.json)
    if args.command == "emulator":
        from wanbuild.commands.emulator import serve

        return serve(
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            state_dir=args.state_dir,
            region=args.region,
            faults=args.faults,
            profile=args.profile,
            out=stream,
            api_key=os.environ.get(args.api_key_env) if args.api_key_env else None,
        )
    if args.command == "local":
        from wanbuild.commands.local import export_dataset_command, tiny_model_command

        if args.local_command == "tiny-model":
            if targets:
                raise ConfigError(f"tiny-model takes no overrides: {' '.join(targets)}")
            return tiny_model_command(args.dir, stream, seed=args.seed)
        return export_dataset_command(args.effect, args.out, targets, stream, fmt=args.format)
    if args.command == "init":
        from wanbuild.commands.init import init

        if targets:
            raise ConfigError(f"init takes no overrides: {' '.join(targets)}")
        return init(
            args.path,
            model=args.model,
            region=args.region,
            kind=args.kind,
            trigger=args.trigger,
            out=stream,
            source=args.source,
            move=args.move,
            dry_run=args.dry_run,
        )
    raise AssertionError(args.command)
