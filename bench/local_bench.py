"""Benchmark the local trainer on the tiny random Wan 2.2 model, on this machine's CPU (or GPU).

    python bench/local_bench.py [--steps 160] [--size 32] [--frames 9] [--batch 2]

Prints, from one run:
  1. wanbuild's seconds per training step (the worker's own clock over its steps, state
     writes included; model loading, encoding and checkpoints excluded) against a bare
     diffusers + peft loop written here: the same model, LoRA, batch, latents, noise levels
     and optimizer, nothing else (goal: <= 1.05x). wanbuild trains three times (the job and
     two retrains), the bare loop runs after each; the ratio is the least against the least
     (steps of ~10 ms on a small shared machine vary by 20% from run to run). Then the
     step alone, paired in one process: wanbuild's `Trainer._step` and the bare step in
     alternating blocks, so that both see the same machine (the steadier figure).
  2. the encode work of a retrain after a learning-rate change (goal: 0 samples encoded).

Needs the local extra (`pip install torch==2.13.0 && pip install -e '.[local]'
-c .ci/constraints.txt`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CAPTIONS = [
    "A person walks along a quiet city street.",
    "The camera pans across a mountain lake.",
    "A ceramic cup stands on a wooden table.",
    "A dancer turns slowly in a bright studio.",
    "Waves roll onto an empty beach at dusk.",
    "A cyclist rides past a row of shops.",
    "Snow falls on a pine forest.",
    "A chef slices vegetables on a board.",
]


def project(root: Path, weights: Path, args: argparse.Namespace) -> Path:
    from wanbuild.media.synth import make_video

    d = root / "effects" / "bench"
    train = []
    for i, caption in enumerate(CAPTIONS):
        make_video(d / f"media/c{i}.mp4", i, (args.size * 2, args.size * 2), args.frames / 16, 16)
        train.append(
            {"id": f"c{i}", "video": f"media/c{i}.mp4", "subject": caption, "background": "Day."}
        )
    per_epoch = -(-len(CAPTIONS) // args.batch)
    doc = {
        "defaults": [
            "config",
            {"override model": "wan2.2-t2v-a14b"},
            {"override region": "local"},
            {"override backend": "local"},
            "_self_",
        ],
        "model": {"weights": str(weights)},
        "trigger": "b7rnd",
        "effect": "Rendered in the {trigger} brand style.",
        "hyper_parameters": {
            "width": args.size,
            "height": args.size,
            "num_frames": args.frames,
            "precision": "fp32",
            "gradient_checkpointing": False,
            "batch_size": args.batch,
            "n_epochs": max(1, args.steps // per_epoch),
            "eval_epochs": 10_000,  # one checkpoint, at the end
            "learning_rate": 1.0e-4,
        },
    }
    (d / "effect.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (d / "samples.yaml").write_text(yaml.safe_dump({"train": train}), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return d


def wanbuild(root: Path, *argv: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wanbuild", *argv], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"wanbuild {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")


def train(root: Path, *argv: str) -> dict[str, object]:
    """Apply (which returns once the worker is started), wait for the job by reading its
    state once a second (not apply --wait's watcher, which would share the CPU with it on a
    small machine), then apply again to publish; the job's final state."""
    known = set(jobs(root))
    wanbuild(root, "apply", *argv)
    (job,) = set(jobs(root)) - known
    while True:
        state: dict[str, object] = json.loads((job / "state.json").read_text(encoding="utf-8"))
        if state.get("status") in ("SUCCEEDED", "FAILED", "CANCELED"):
            break
        time.sleep(1.0)
    if state["status"] != "SUCCEEDED":
        raise SystemExit(f"{job.name} {state['status']}: {state.get('message')}")
    wanbuild(root, "apply", "--wait", *argv)
    return {**state, "job": str(job)}


def jobs(root: Path) -> list[Path]:
    found = (root / ".wanbuild/local/jobs").glob("ft-local-*")
    return sorted(found, key=lambda p: p.stat().st_mtime)


# the bare step: the same model call, objective and optimizer, nothing else
BARE_STEP = r"""
def bare(step):
    g = torch.Generator().manual_seed(step)
    s, expert = noise_level(g, shift, tuple(experts), boundary)
    picked = [samples[(step * batch + i) % len(samples)] for i in range(batch)]
    x0 = torch.cat([p.latents for p in picked])
    text = torch.cat([p.text for p in picked])
    noise = torch.randn(x0.shape, generator=g)
    pred = experts[expert](hidden_states=(1 - s) * x0 + s * noise,
                           timestep=torch.full((batch,), s * 1000),
                           encoder_hidden_states=text, return_dict=False)[0]
    loss = torch.nn.functional.mse_loss(pred, noise - x0)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    float(loss)
"""

# a bare diffusers + peft loop in a process of its own: plain peft, no wanbuild code on the
# step's path (the job's cached latents and text are read, not timed)
BARE = (
    r"""
import json, sys, time, torch
from pathlib import Path
from diffusers import WanPipeline
from peft import LoraConfig
from wanbuild.local.jobspec import JobSpec
from wanbuild.local.encode_cache import EncodeCache
from wanbuild.local.trainer import noise_level
job, steps = Path(sys.argv[1]), int(sys.argv[2])
spec = JobSpec.read(job)
hp = spec.hp
pipe = WanPipeline.from_pretrained(str(spec.weights))
samples, _ = EncodeCache(spec.cache_dir, spec).encode_all(
    pipe, spec.train_samples(), torch.device("cpu"), torch.float32
)
experts = {}
for name in ("transformer", "transformer_2"):
    m = getattr(pipe, name)
    m.requires_grad_(False)
    m.add_adapter(LoraConfig(r=hp["lora_rank"], lora_alpha=hp["lora_alpha"],
                             lora_dropout=hp["lora_dropout"],
                             target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    m.train()
    experts[name] = m
params = [p for m in experts.values() for p in m.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=hp["learning_rate"], weight_decay=0.0)
shift, boundary, batch = pipe.scheduler.config.shift, pipe.config.boundary_ratio, hp["batch_size"]
"""
    + BARE_STEP
    + r"""
start = time.perf_counter()
for step in range(steps):
    bare(step)
print(json.dumps({"s_per_step": (time.perf_counter() - start) / steps}))
"""
)

# wanbuild's Trainer._step and the bare step in one process, in alternating blocks
PAIRED = (
    r"""
import json, sys, time, torch
from pathlib import Path
from wanbuild.local.encode_cache import EncodeCache
from wanbuild.local.jobspec import JobSpec
from wanbuild.local.trainer import Trainer, noise_level
job = Path(sys.argv[1])
spec = JobSpec.read(job)
trainer = Trainer(spec, job, lambda **_: None)
pipe = trainer._pipeline()
samples, _ = EncodeCache(spec.cache_dir, spec).encode_all(
    pipe, spec.train_samples(), trainer.device, trainer.dtype
)
experts = {}
for name in ("transformer", "transformer_2"):
    m = getattr(pipe, name)
    m.requires_grad_(False)
    trainer._lora(m)
    m.train()
    experts[name] = m
params = [p for m in experts.values() for p in m.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=spec.hp["learning_rate"], weight_decay=0.0)
shift, boundary = pipe.scheduler.config.shift, pipe.config.boundary_ratio
batch = spec.hp["batch_size"]
def ours(step):
    picked = [samples[(step * batch + i) % len(samples)] for i in range(batch)]
    trainer._step(experts, opt, picked, step, shift, tuple(experts), boundary)
"""
    + BARE_STEP
    + r"""
for step in range(10):  # warm up both
    ours(step); bare(step)
took = {"ours": [], "bare": []}
for block in range(8):  # alternating blocks: both see the same machine
    for name, step_of in (("ours", ours), ("bare", bare)):
        start = time.perf_counter()
        for step in range(30):
            step_of(step)
        took[name].append((time.perf_counter() - start) / 30)
print(json.dumps(took))
"""
)


def child(script: str, *argv: str) -> Any:
    """What a script run in a process of its own printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def paired(job: Path) -> dict[str, list[float]]:
    took: dict[str, list[float]] = child(PAIRED, str(job))
    return took


def bare(job: Path, steps: int) -> float:
    return float(child(BARE, str(job), str(steps))["s_per_step"])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=160)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--batch", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="wanbuild-local-bench-") as tmp:
        root = Path(tmp)
        weights = root / "tiny-wan"
        wanbuild(root, "local", "tiny-model", str(weights))
        effect = project(root, weights, args)
        began = time.perf_counter()
        state = train(root, str(effect))
        first_wall = time.perf_counter() - began
        job = Path(str(state["job"]))
        steps = int(str(state["step"]))
        ours = [float(str(state["steps_s"])) / steps]
        theirs = [bare(job, steps)]
        retrains = []
        for lr in ("2e-4", "3e-4"):  # retrains: the same steps, nothing encoded again
            retrains.append(train(root, str(effect), f"hyper_parameters.learning_rate={lr}"))
            ours.append(float(str(retrains[-1]["steps_s"])) / int(str(retrains[-1]["step"])))
            theirs.append(bare(job, steps))
        retrain = retrains[0]
        blocks = paired(job)
        # the least of each side's runs: what the code costs, not what else ran meanwhile
        ratio = min(ours) / min(theirs)
        print(
            f"model: tiny random Wan 2.2 T2V (two experts), {args.size}x{args.size} x "
            f"{args.frames} frames, batch {args.batch}, fp32, {steps} steps, "
            f"{'cuda' if _cuda() else 'cpu'}"
        )
        print(
            f"seconds per step: wanbuild {' / '.join(f'{x * 1000:.2f}' for x in ours)} ms "
            f"(the job, two retrains), bare diffusers+peft "
            f"{' / '.join(f'{x * 1000:.2f}' for x in theirs)} ms (after each) -> "
            f"{ratio:.3f}x, least against least (goal <= 1.05x)"
        )
        print(
            f"the step alone, paired in one process (8 alternating blocks of 30 steps): "
            f"wanbuild's Trainer._step {min(blocks['ours']) * 1000:.2f} ms, the bare step "
            f"{min(blocks['bare']) * 1000:.2f} ms -> "
            f"{min(blocks['ours']) / min(blocks['bare']):.3f}x (least against least)"
        )
        print(
            f"first apply to published: {first_wall:.1f} s in all (process start, model load, "
            f"encode {state['encoded']} samples, {steps} steps, a checkpoint, publish)"
        )
        print(
            f"retrain after a learning-rate change: {retrain['encoded']} samples encoded, "
            f"{retrain['cached']} read from the cache (goal 0 encoded)"
        )
    return 0


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


if __name__ == "__main__":
    raise SystemExit(main())
