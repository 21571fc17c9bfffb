"""`wanbuild apply [EFFECT... | plan.json]`: make the remote match the effects.

Shows the plan first (on the real service it asks before changing anything, unless --yes), then
advances every effect as far as it can and returns; with --wait it keeps going until every
effect matches, with progress. Effects run concurrently, one apply at a time per effect. Ctrl-C
stops waiting and never cancels remote work: the next apply picks up where things are.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from wanbuild.commands.session import (
    Item,
    confirm,
    desired_digest,
    observed_digest,
    open_session,
)
from wanbuild.core.actions import EffectPlan, Kind
from wanbuild.core.plan import plan
from wanbuild.core.render import render_text
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.reconcile.loop import Hooks, Outcome, converge
from wanbuild.reconcile.mutex import Busy, effect_mutex
from wanbuild.reconcile.observe import api_of
from wanbuild.reconcile.previews import keep
from wanbuild.reconcile.watch import Watch
from wanbuild.remote.errors import RemoteError
from wanbuild.spec.state import Desired, Observed
from wanbuild.store.previews import PreviewArchive
from wanbuild.versioning.git import Inputs, inputs_commits

EXIT_INTERRUPTED = 130
MAX_PARALLEL = 512  # effects converging at once: mostly waiting, on one shared listing
UPLOADS_IN_FLIGHT = 16  # per service: uploads are what take bandwidth
STEPS_EVERY = 5.0  # seconds between reads of a running job's step, for the progress bars


def apply_command(
    targets: list[Path],
    overrides: list[str],
    out: TextIO,
    *,
    wait: bool,
    yes: bool,
    retry_failed: bool,
    poll: float | None,
    lock_timeout: float,
    forget_pending: bool = False,
) -> int:
    saved = _saved_plan(targets)
    effect_dirs = [Path(d["path"]) for d in saved["effects"].values()] if saved else targets
    session = open_session(effect_dirs, overrides, out, build=True)
    try:
        for line in session.headers:
            print(line, file=out, flush=True)
        if forget_pending:
            _forget_pending(session.items, out)
        first = _first_plans(session.items, retry_failed)
        if saved:
            _check_saved(saved, session.items, first)
        plans = [p for p, _ in first.values()]
        print(
            render_text(
                plans, "", {i.desired.effect: i.desired.fitted for i in session.items}
            ).lstrip("\n"),
            file=out,
            flush=True,
        )
        nothing = not any(
            p.changes or any(a.kind in (Kind.WAIT, Kind.BLOCKED) for a in p.actions) for p in plans
        )
        if nothing:
            print("Nothing to do: every effect matches the remote.", file=out)
        elif (
            session.real
            and not yes
            and not confirm(
                out, "Apply these changes to Model Studio?", "this changes the real service"
            )
        ):
            print("Not applied.", file=out)
            return EXIT_ERROR
        outcomes = _run(
            session.items,
            out,
            wait=wait,
            retry_failed=retry_failed,
            poll=poll if poll is not None else (30.0 if session.real else 0.2),
            lock_timeout=lock_timeout,
        )
    finally:
        session.close()
    for o in outcomes:
        print(f"{o.effect}: {o.state}: {o.message}", file=out)
    if any(o.state == "interrupted" for o in outcomes):
        print(
            "Stopped waiting; remote work goes on. Run `wanbuild apply` again to continue.",
            file=out,
        )
        return EXIT_INTERRUPTED
    return EXIT_ERROR if any(o.state == "failed" for o in outcomes) else EXIT_OK


def _first_plans(items: list[Item], retry_failed: bool) -> dict[str, tuple[EffectPlan, Observed]]:
    result = {}
    for item in items:
        d = item.desired
        observed = item.observe()
        result[d.effect] = (plan(d, observed, retry_failed=retry_failed), observed)
    return result


def _forget_pending(items: list[Item], out: TextIO) -> None:
    """The user checked the console: the creates whose replies were lost made nothing."""
    for item in items:
        lock = item.lock
        for intent in lock.entry().get("intents", []):
            print(
                f"{item.desired.effect}: forgetting the unanswered {intent.get('action')} "
                f"of {intent.get('at')}",
                file=out,
            )
            lock.clear_intent(str(intent.get("key")))


def _saved_plan(targets: list[Path]) -> dict[str, Any] | None:
    files = [t for t in targets if t.suffix == ".json" and t.is_file()]
    if not files:
        return None
    if len(targets) != 1:
        raise WanbuildError("apply takes either effect directories or one saved plan, not both")
    try:
        doc = json.loads(files[0].read_text(encoding="utf-8"))
    except ValueError:
        raise WanbuildError(f"{files[0]}: not a plan saved by `wanbuild plan --out`") from None
    if not isinstance(doc, dict) or doc.get("format") != 1 or "effects" not in doc:
        raise WanbuildError(f"{files[0]}: not a plan saved by `wanbuild plan --out`")
    return doc


def _check_saved(
    saved: dict[str, Any], items: list[Item], first: dict[str, tuple[EffectPlan, Observed]]
) -> None:
    for item in items:
        d = item.desired
        was = saved["effects"][d.effect]
        if was.get("desired") != desired_digest(d):
            raise WanbuildError(
                f"{d.effect}: the effect changed since the plan was saved; "
                "run `wanbuild plan` again"
            )
        if was.get("observed") != observed_digest(first[d.effect][1]):
            raise WanbuildError(
                f"{d.effect}: the remote changed since the plan was saved; "
                "run `wanbuild plan` again"
            )


def _inputs_commits(items: list[Item]) -> dict[str, str | None]:
    """Per effect, the commit whose tree holds its inputs exactly (None: not committed yet,
    or not in the project's repository); one git status per project."""
    by_project: dict[Path, dict[str, Inputs]] = {}
    for item in items:
        inputs = [p for p in (item.directory, item.conf_dir) if p.is_relative_to(item.project)]
        if item.directory in inputs:
            exclude = [item.directory / "wanbuild.lock"]
            by_project.setdefault(item.project, {})[item.desired.effect] = (inputs, exclude)
    commits: dict[str, str | None] = dict.fromkeys(i.desired.effect for i in items)
    for project, effects in by_project.items():
        commits.update(inputs_commits(project, effects))
    return commits


def _run(
    items: list[Item],
    out: TextIO,
    *,
    wait: bool,
    retry_failed: bool,
    poll: float,
    lock_timeout: float,
) -> list[Outcome]:
    stop = threading.Event()
    printer = threading.Lock()
    started = time.monotonic()
    progress = _Progress(out, enabled=wait)
    # per service: one listing shared by every waiting effect, and a bound on uploads
    clients = {id(i.client): i.client for i in items}
    apis = {key: {api_of(i.desired) for i in items if i.client is c} for key, c in clients.items()}
    watches = {key: Watch(c, poll, apis=apis[key]) for key, c in clients.items()}
    uploads = {key: threading.Semaphore(UPLOADS_IN_FLIGHT) for key in clients}
    commits = _inputs_commits(items)

    def say(effect: str) -> Any:
        def line(text: str) -> None:
            with printer:
                progress.print(f"{effect}: {text}")

        return line

    def one(item: Item) -> Outcome:
        d = item.desired
        steps_every = max(STEPS_EVERY, poll) if progress.live else None
        hooks = Hooks(say(d.effect), progress.update, stop, steps_every)
        gate = item.gate(hooks.say, lock_timeout, "apply")
        try:
            with effect_mutex(
                item.store.root / "locks", d.effect, timeout=lock_timeout, say=hooks.say
            ):
                outcome = converge(
                    item.client,
                    d,
                    item.directory,
                    wait=wait,
                    retry_failed=retry_failed,
                    poll=poll,
                    hooks=hooks,
                    commit=commits[d.effect],
                    claims=item.claims,
                    watch=watches[id(item.client)],
                    uploads=uploads[id(item.client)],
                    recent_claims=item.recent,
                    gate=gate,
                )
            if wait:
                _keep_previews(item, outcome, hooks.say)
            return outcome
        except Busy as e:
            return Outcome(d.effect, "failed", str(e))
        except WanbuildError as e:
            return Outcome(d.effect, "failed", str(e))
        finally:
            if gate is not None:
                gate.release()

    # waiting dominates (hours of training, minutes of deploying): every effect waits in its
    # own thread, so the waits overlap, and they share one listing of the remote per interval
    with progress, ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)) or 1) as pool:
        futures = [pool.submit(one, item) for item in items]
        try:
            while not all(f.done() for f in futures):
                time.sleep(0.05)
        except KeyboardInterrupt:
            stop.set()
            for w in watches.values():
                w.wake()
        outcomes = [f.result() for f in futures]
    if wait:
        print(f"elapsed {time.monotonic() - started:.1f} s", file=out)
    return outcomes


def _keep_previews(item: Item, outcome: Outcome, say: Any) -> None:
    """A job that succeeded: its previews into the archive before their URLs expire."""
    job = outcome.observed.job if outcome.observed else None
    if job is None or job.status != "SUCCEEDED":
        return
    try:
        keep(
            item.client,
            job.job_id,
            PreviewArchive.of(item.store.root),
            say,
            effect=item.spec.effect,
        )
    except RemoteError as e:
        say(f"previews not kept this time ({e}); the next apply, status or review tries again")


class _Progress:
    """Rich progress bars (job step, elapsed, ETA) when waiting on a terminal; lines otherwise."""

    def __init__(self, out: TextIO, *, enabled: bool) -> None:
        self.out = out
        self.live = enabled and out.isatty()
        self._tasks: dict[str, Any] = {}
        self._steps: dict[str, int] = {}
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.out),
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.out, flush=True)

    def update(self, desired: Desired, current: EffectPlan, observed: Observed) -> None:
        if self._bar is None:
            return
        job = observed.job
        status = job.status if job else current.impact.value
        if job and job.step is not None:
            step = job.step
        elif job and job.status == "SUCCEEDED":
            step = desired.total_steps
        elif job and job.status == "RUNNING":
            step = self._steps.get(desired.effect, 0)  # not read this pass: the last known
        else:
            step = 0
        self._steps[desired.effect] = step
        dep = observed.deployment
        text = f"{desired.effect}: job {status}" + (f", deployment {dep.status}" if dep else "")
        if desired.effect not in self._tasks:
            self._tasks[desired.effect] = self._bar.add_task(text, total=desired.total_steps)
        self._bar.update(self._tasks[desired.effect], description=text, completed=step)
