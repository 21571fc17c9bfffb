"""How a local job's worker is started: one process, or one per GPU under torch's
distributed launcher (`backend.num_processes`). No torch imported here."""

from __future__ import annotations

import sys
from pathlib import Path


def worker_command(job_dir: Path, num_processes: int) -> list[str]:
    """The worker's command line: one process, or `num_processes` ranks under
    `torch.distributed.run` on this machine (accelerate reads the ranks it sets; gloo on the
    CPU, NCCL on GPUs). Process 0 writes the state, the checkpoints and the export."""
    if num_processes <= 1:
        return [sys.executable, "-m", "wanbuild.local.worker", str(job_dir)]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={num_processes}",
        "-m",
        "wanbuild.local.worker",
        str(job_dir),
    ]
