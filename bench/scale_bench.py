"""Scale: N effects x 50 samples in a temporary git + DVC project, timed in one run.

    python bench/scale_bench.py N [--samples 50] [--repeat 3]

Generates N i2v effects (tiny real media, tracked with `dvc add`, one `build` stage per effect
in dvc.yaml), applies them once on the embedded emulator, then times, each the best of
--repeat runs (page cache warm for all):

  stat walk   a Python process that stat()s every file of every effect (the floor)
  python      the interpreter starting and exiting (part of every command's cost)
  dvc status  DVC deciding whether anything changed
  plan        `wanbuild plan` of the unchanged project (no-op)
  build noop  `wanbuild build` of the unchanged project
  build edit  `wanbuild build` after one samples.yaml changed

and prints each ratio against its goal (issue: a no-op plan <= 0.1x dvc status and <= 3x the
stat walk plus interpreter start; a build after one edit near the no-op build).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import sample_entry, write_effect

STAT_WALK = """
import os, sys
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    for f in files:
        os.stat(os.path.join(root, f)); n += 1
"""


def sh(
    cwd: Path, *argv: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 2)
) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return elapsed


def best(repeat: int, fn: object) -> float:
    return min(fn() for _ in range(repeat))  # type: ignore[operator]


def make_project(root: Path, n: int, samples: int, env: dict[str, str]) -> None:
    names = [f"fx_{i:04d}" for i in range(n)]
    for name in names:
        write_effect(root, name, n_train=samples)
    (root / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "build": {
                        "foreach": names,
                        "do": {
                            "cmd": "wanbuild build effects/${item}",
                            "deps": [
                                "effects/${item}/effect.yaml",
                                "effects/${item}/samples.yaml",
                                "effects/${item}/media",
                            ],
                            "outs": ["build/${item}"],
                        },
                    }
                }
            }
        )
    )
    (root / ".gitignore").write_text(".wanbuild/\n")
    sh(root, "git", "init", "-q", env=env)
    sh(root, sys.executable, "-m", "dvc", "init", "-q", env=env)
    sh(
        root,
        sys.executable,
        "-m",
        "dvc",
        "add",
        "-q",
        *(f"effects/{x}/media" for x in names),
        env=env,
    )
    sh(root, "git", "add", "-A", env=env)
    sh(root, "git", "commit", "-q", "-m", "effects", env=env)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    wanbuild = [sys.executable, "-m", "wanbuild"]
    with tempfile.TemporaryDirectory(prefix="wanbuild-scale-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "DVC_NO_ANALYTICS": "1",
            "WANBUILD_EMULATOR_TIME_SCALE": "1e7",
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@b",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b",
        }
        started = time.perf_counter()
        make_project(root, args.n, args.samples, env)
        made = time.perf_counter() - started
        print(f"{args.n} effects x {args.samples} samples made in {made:.0f} s")
        started = time.perf_counter()
        sh(root, *wanbuild, "apply", "--wait", env=env)
        print(f"first apply of all effects: {time.perf_counter() - started:.1f} s")
        sh(root, *wanbuild, "plan", env=env)  # fills the plan cache
        r = args.repeat
        walk = best(r, lambda: sh(root, sys.executable, "-c", STAT_WALK, "effects", env=env))
        python = best(r, lambda: sh(root, sys.executable, "-c", "pass", env=env))
        # exit 1: DVC found stages to run (the zips were built by wanbuild, not `dvc repro`)
        dvc = best(r, lambda: sh(root, sys.executable, "-m", "dvc", "status", env=env, ok=(0, 1)))
        plan = best(r, lambda: sh(root, *wanbuild, "plan", env=env))
        noop = best(r, lambda: sh(root, *wanbuild, "build", env=env))
        edited = []
        for i in range(r):
            d = root / "effects" / "fx_0000"
            doc = yaml.safe_load((d / "samples.yaml").read_text())
            doc["train"][0] = sample_entry("i2v", 1) | {"background": f"a pier, take {i}."}
            (d / "samples.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            edited.append(sh(root, *wanbuild, "build", env=env))
        edit = min(edited)
    print()
    print(f"{'what':<12} {'seconds':>8}")
    for name, value in [
        ("stat walk", walk),
        ("python", python),
        ("dvc status", dvc),
        ("plan", plan),
        ("build noop", noop),
        ("build edit", edit),
    ]:
        print(f"{name:<12} {value:>8.3f}")
    print()
    floor = walk + python
    print(f"plan / dvc status         {plan / dvc:6.2f}x   (goal <= 0.1x)")
    print(f"plan / (stat walk+python) {plan / floor:6.2f}x   (goal <= 3x)")
    print(f"build edit / build noop   {edit / noop:6.2f}x   (goal: proportional to the change)")


if __name__ == "__main__":
    main()
