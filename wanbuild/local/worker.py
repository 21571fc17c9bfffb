"""The detached worker of one local training job: `python -m wanbuild.local.worker JOB_DIR`.

Started by the service in a session of its own (Ctrl-C or a kill of `apply` never reaches it),
it holds the job's worker lock for as long as it lives, trains from the last complete
checkpoint, and writes state.json as it goes. On success the final checkpoint is exported as
the job's output model. Under `backend.num_processes=N` the service starts it with torch's
distributed launcher; process 0 writes the state, checkpoints and exports.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from wanbuild.local import jobstate
from wanbuild.local.jobspec import JobSpec

LOCK_FD_ENV = "WANBUILD_WORKER_LOCK_FD"
# A test seam: a file holding a step number; after that step the worker waits (alive, its
# lock held) for as long as the file exists. Tests use it to kill a worker mid-epoch.
HOLD_ENV = "WANBUILD_WORKER_HOLD"
# A step's state and log line are written at most this often (and always the step before a
# checkpoint, and the last): steps of a few milliseconds would otherwise spend a tenth of
# their time writing them.
REPORT_EVERY_S = 0.5


def _hold(step: int) -> None:
    path = os.environ.get(HOLD_ENV)
    if not path:
        return
    hold = Path(path)
    try:
        at = int(hold.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return
    while step >= at and hold.exists():
        time.sleep(0.05)


class _Canceled(Exception):
    pass


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Canceled()


def detach(num_processes: int, job_dir: Path) -> int:
    """Start the job's worker in a session of its own, its output in worker.out, and return:
    the worker's lock (the fd in LOCK_FD_ENV) passes on to it."""
    import subprocess

    from wanbuild.local.launch import worker_command

    fd = int(os.environ[LOCK_FD_ENV])
    with (job_dir / "worker.out").open("ab") as out:
        subprocess.Popen(
            worker_command(job_dir, num_processes),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(fd,),
            cwd=str(job_dir),
        )
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--detach"]:
        return detach(int(argv[1]), Path(argv[2]).resolve())
    job_dir = Path(argv[0]).resolve()
    rank = int(os.environ.get("RANK", "0"))
    main_process = rank == 0
    by_hand = LOCK_FD_ENV not in os.environ and "LOCAL_RANK" not in os.environ
    if main_process and by_hand and jobstate.try_lock(job_dir) is None:
        # started by hand beside a live worker
        print(f"{job_dir}: a worker is already training this job", file=sys.stderr)
        return 3
    signal.signal(signal.SIGTERM, _on_term)
    spec = JobSpec.read(job_dir)

    written = [0.0]  # when a step was last written: fast steps are written twice a second

    def report(event: str, **fields: Any) -> None:
        if not main_process:
            return
        if event == "step":
            now = time.monotonic()
            last = fields["step"] == fields["total"] or fields.get("checkpoint_next")
            if now - written[0] < REPORT_EVERY_S and not last and HOLD_ENV not in os.environ:
                return
            written[0] = now
            jobstate.write_state(
                job_dir,
                status="RUNNING",
                step=fields["step"],
                total=fields["total"],
                epoch=fields["epoch"],
                loss=fields["loss"],
                eta_s=fields["eta_s"],
                steps_s=fields["steps_s"],
            )
            jobstate.log(
                job_dir,
                f"step {fields['step']}/{fields['total']} loss {fields['loss']:.4f} "
                f"eta {fields['eta_s']:.0f}s",
            )
            _hold(int(fields["step"]))
        elif event == "start":
            jobstate.write_state(
                job_dir,
                status="RUNNING",
                step=fields["step"],
                total=fields["total"],
                resumed_from=fields["step"],
            )
            how = f"resumed from step {fields['step']}" if fields["resumed"] else "started"
            on = f", {fields['processes']} processes" if fields["processes"] > 1 else ""
            jobstate.log(job_dir, f"training {how}, {fields['total']} steps in all{on}")
        elif event == "encoded":
            jobstate.write_state(job_dir, encoded=fields["encoded"], cached=fields["cached"])
            jobstate.log(
                job_dir,
                f"encoded {fields['encoded']} samples ({fields['cached']} read from the cache)",
            )
        elif event == "checkpoint":
            jobstate.log(job_dir, f"{fields['checkpoint']} saved at step {fields['step']}")

    if main_process:
        jobstate.write_state(job_dir, status="RUNNING", pid=os.getpid(), message=None)
        jobstate.log(job_dir, f"worker {os.getpid()} on {spec.model} ({spec.weights})")
    try:
        from wanbuild.local.trainer import Trainer

        Trainer(spec, job_dir, report).run()
        if main_process:
            from wanbuild.local.exports import export_final

            export_final(job_dir, spec)
            jobstate.write_state(job_dir, status="SUCCEEDED", eta_s=0)
            jobstate.log(job_dir, "succeeded")
    except _Canceled:
        if main_process:
            jobstate.write_state(job_dir, status="CANCELED")
            jobstate.log(job_dir, "canceled")
        return 1
    except Exception as e:  # noqa: BLE001 - the job failed: said in its state, the trace in its log
        if main_process:
            jobstate.write_state(job_dir, status="FAILED", message=f"{type(e).__name__}: {e}")
            jobstate.log(job_dir, "failed:\n" + traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
