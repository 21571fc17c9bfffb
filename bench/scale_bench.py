"""Scale: every ratio of the scale goals, from one run, on N effects x 50 samples.

    python bench/scale_bench.py N [--samples 50] [--repeat 3] [--mb 300] [--keep DIR]

Makes, in a temporary directory, a git + DVC project of N i2v effects (tiny real media, `dvc
add`ed, one `build` stage per effect in dvc.yaml) and a one-effect project made the same way.
Then, timing whole commands (each cheap one the best of --repeat runs, page cache warm):

  build all    `wanbuild build` of the N effects, cold (reported: per-file work, not reading)
  apply        `apply --wait` of all N effects, and of the one effect, each after its build, on a
               fresh embedded emulator answering every request 50 ms late (time scale 2000)
  plan         `wanbuild plan` of the unchanged project, against `dvc status` and against a stat
               walk of every file plus an interpreter start (the floor any tool pays)
  build        `wanbuild build` of the unchanged project; after one samples.yaml edit, its cost
               beyond the no-op against the edited effect built on its own (each edited build
               paired with the no-op just before it; the median of the differences)
  throughput   on one --mb effect (2 MB JPEG + 8 MB MP4 per sample): a cold `wanbuild build`
               against read + sha256 + copy of its media, both as a whole command and for its
               bytes alone (less the cold build of the same effect unpadded: imports, compose,
               probing; bench/build_bench.py), and an upload to `wanbuild emulator serve`
               against read + sha256, beside the ceiling of any server that md5s and stores what
               it receives and read + md5 alone (bench/upload_bench.py)

and prints each ratio beside its goal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import build_bench  # noqa: E402
import upload_bench  # noqa: E402

from tests.helpers import sample_entry, write_effect  # noqa: E402

STAT_WALK = """
import os, sys
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    for f in files:
        os.stat(os.path.join(root, f)); n += 1
"""
APPLY_ENV = {"WANBUILD_EMULATOR_FAULTS": "latency=0.05", "WANBUILD_EMULATOR_TIME_SCALE": "2000"}


def sh(
    cwd: Path, *argv: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 2)
) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return elapsed


def best(repeat: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeat))


def make_project(root: Path, n: int, samples: int, env: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
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
    media = [f"effects/{x}/media" for x in names]
    sh(root, sys.executable, "-m", "dvc", "add", "-q", *media, env=env)
    sh(root, "git", "add", "-A", env=env)
    sh(root, "git", "commit", "-q", "-m", "effects", env=env)


def edit(effect: Path, take: int) -> None:
    doc = yaml.safe_load((effect / "samples.yaml").read_text())
    doc["train"][0] = sample_entry("i2v", 1) | {"background": f"a pier, take {take}."}
    (effect / "samples.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def throughput(root: Path, mb: int) -> dict[str, float]:
    """Cold build and upload of one large effect, each against its raw baseline."""
    built = build_bench.measure(root / "build", mb)
    path = upload_bench.make_file(root / "upload.zip", mb)
    upload_bench.warm(path)
    with upload_bench.emulator_server(root / "state") as url:
        base, _ = upload_bench.measure("baseline", path, url)
        native, _ = upload_bench.measure("native", path, url)
        compatible, _ = upload_bench.measure("compatible", path, url)
        ceiling, _ = upload_bench.measure("ceiling", path, url)
        md5, _ = upload_bench.measure("md5", path, url)
    return {
        "build_mb": built["mb"],
        "build_base": built["baseline"],
        "build_cold": built["cold"],
        "build_small": built["small"],
        "upload_base": base,
        "upload_native": native,
        "upload_compatible": compatible,
        "upload_ceiling": ceiling,
        "upload_md5": md5,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mb", type=int, default=300, help="size of the throughput effect")
    ap.add_argument("--keep", type=Path, help="make the projects here and keep them")
    ap.add_argument(
        "--again",
        action="store_true",
        help="with --keep: the projects are there, made and applied; time the rest again",
    )
    args = ap.parse_args()
    wanbuild = [sys.executable, "-m", "wanbuild"]
    t: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wanbuild-scale-") as tmp:
        base = args.keep or Path(tmp)
        root, one = base / "all", base / "one"
        env = {
            # as on a user's machine: bytecode cached after the first run
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@b",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b",
        }
        applying = {**env, **APPLY_ENV}
        if not args.again:
            started = time.perf_counter()
            make_project(root, args.n, args.samples, env)
            make_project(one, 1, args.samples, env)
            made = time.perf_counter() - started
            print(f"{args.n} effects x {args.samples} samples made in {made:.0f} s", flush=True)
            t["build all"] = sh(root, *wanbuild, "build", env=env)
            sh(one, *wanbuild, "build", env=env)
            t["apply one"] = sh(one, *wanbuild, "apply", "--wait", env=applying, ok=(0,))
            t["apply all"] = sh(root, *wanbuild, "apply", "--wait", env=applying, ok=(0,))
            print(f"built and applied: {t['build all']:.1f} s, {t['apply all']:.1f} s", flush=True)
        r = args.repeat
        quick = {**env, "WANBUILD_EMULATOR_TIME_SCALE": "2000"}
        fx = root / "effects" / "fx_0000"
        sh(root, "git", "checkout", "-q", "--", str(fx / "samples.yaml"), env=env)  # --again
        sh(root, *wanbuild, "build", env=env)
        if args.again:  # whatever the last run left: converge again before timing
            sh(root, *wanbuild, "apply", "--wait", env=quick, ok=(0,))
        sh(root, *wanbuild, "plan", env=quick, ok=(0,))  # converged: exit 0
        t["stat walk"] = best(r, lambda: sh(root, sys.executable, "-c", STAT_WALK, "effects"))
        t["python"] = best(r, lambda: sh(root, sys.executable, "-c", "pass"))
        # exit 1: DVC finds its stages changed (wanbuild built the zips, not `dvc repro`)
        t["dvc status"] = best(
            r, lambda: sh(root, sys.executable, "-m", "dvc", "status", env=env, ok=(0, 1))
        )
        t["plan"] = best(r, lambda: sh(root, *wanbuild, "plan", env=quick, ok=(0,)))
        edits = iter(range(10**6))

        def beyond_noop(*where: str) -> tuple[float, float]:
            """(the no-op build, what one samples.yaml edit adds to it): each edited build is
            timed right after a no-op one and the median difference taken (a difference of
            two best-ofs swings with whatever else the machine did meanwhile)."""
            noops, extra = [], []
            for _ in range(r):
                noops.append(sh(root, *wanbuild, "build", *where, env=env))
                edit(fx, next(edits))
                extra.append(sh(root, *wanbuild, "build", *where, env=env) - noops[-1])
            return min(noops), statistics.median(extra)

        t["build noop"], t["build edit extra"] = beyond_noop()
        t["build one noop"], t["build one edit extra"] = beyond_noop(str(fx))
        print("throughput ...", flush=True)
        shutil.rmtree(base / "throughput", ignore_errors=True)  # --again: made afresh
        tp = throughput(base / "throughput", args.mb)
    print()
    print(f"{'what':<16} {'seconds':>8}")
    for name, value in t.items():
        print(f"{name:<16} {value:>8.3f}")
    for name in (
        "build_cold",
        "build_small",
        "build_base",
        "upload_native",
        "upload_compatible",
        "upload_ceiling",
        "upload_md5",
        "upload_base",
    ):
        print(f"{name.replace('_', ' '):<16} {tp[name]:>8.3f}")
    floor = t["stat walk"] + t["python"]
    marginal = t["build edit extra"] / t["build one edit extra"]
    rows = [
        ("no-op plan / dvc status", t["plan"] / t["dvc status"], "<= 0.1x"),
        ("no-op plan / (stat walk + python)", t["plan"] / floor, "<= 3x"),
        ("edited build beyond no-op / that effect alone", marginal, "<= 1.5x"),
        *(
            [(f"apply --wait of {args.n} / of 1", t["apply all"] / t["apply one"], "<= 2x")]
            if "apply all" in t
            else []
        ),
        (
            "cold build, its bytes / read+sha256+copy (speed)",
            tp["build_base"] / (tp["build_cold"] - tp["build_small"]),
            ">= 0.7x",
        ),
        ("cold build, whole command / read+sha256+copy", tp["build_base"] / tp["build_cold"], ""),
        ("upload native / read+sha256 (speed)", tp["upload_base"] / tp["upload_native"], ">= 0.5x"),
        (
            "upload compatible / read+sha256 (speed)",
            tp["upload_base"] / tp["upload_compatible"],
            ">= 0.5x",
        ),
        (
            "  ceiling: raw TCP + md5 + write, no HTTP",
            tp["upload_base"] / tp["upload_ceiling"],
            "",
        ),
        ("  bound: read+md5 alone", tp["upload_base"] / tp["upload_md5"], ""),
    ]
    print()
    for label, ratio, goal in rows:
        print(f"{label:<48} {ratio:6.2f}x" + (f"   (goal {goal})" if goal else ""))
    mb = tp["build_mb"]
    print(
        f"\nthroughput effect: {mb:.0f} MB; cold build {mb / tp['build_cold']:.0f} MB/s, "
        f"upload {args.mb / tp['upload_native']:.0f} MB/s native, "
        f"{args.mb / tp['upload_compatible']:.0f} MB/s compatible"
    )


if __name__ == "__main__":
    main()
