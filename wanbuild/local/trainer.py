"""LoRA training of a Wan text-to-video model: diffusers' Wan modules, peft's LoRA, the
flow-matching objective the Wan models were trained with.

    encode (cached by content) -> LoRA on the chosen experts -> epochs of steps
    -> every eval_epochs: a checkpoint (LoRA, optimizer, step; previews; manifest last)

The objective: for clean latents x0 and noise e, a noise level s (sampled uniformly, then
shifted as the model's scheduler shifts it), x_s = (1 - s) x0 + s e, and the transformer
predicts the velocity e - x0 at timestep 1000 s (mean squared error). Wan 2.2 A14B has two
experts: `transformer` denoises the high-noise steps (timestep >= boundary_ratio * 1000),
`transformer_2` the low-noise ones; a step trains the expert its noise level belongs to.

A checkpoint is complete once its manifest is written (last, then the directory renamed into
place): a resumed run starts from the last complete one, at an epoch boundary, with the
optimizer's moments and the data order it would have had.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from wanbuild.local import lora_format
from wanbuild.local.encode_cache import EncodeCache, Sample
from wanbuild.local.jobspec import EXPERT_MODULES, JobSpec
from wanbuild.local.jobstate import last_checkpoint, now, write_json

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
Report = Callable[..., None]


def device_of(spec: JobSpec) -> torch.device:
    wanted = spec.hp.get("device", "auto")
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(str(wanted))


def shifted(s: torch.Tensor, shift: float) -> torch.Tensor:
    """The scheduler's shift of noise levels, as Wan's flow matching does it:
    shift * s / (1 + (shift - 1) s)."""
    return shift * s / (1 + (shift - 1) * s)


def noise_level(
    generator: torch.Generator, shift: float, experts: tuple[str, ...], boundary: float
) -> tuple[float, str]:
    """(a noise level in [0, 1), the expert that denoises it) for one step; with one expert
    trained, a level in that expert's range. The same generator state gives the same answer
    on every process of a distributed run."""
    for _ in range(1000):
        s = float(shifted(torch.rand((), generator=generator), shift))
        expert = "transformer" if s * 1000 >= boundary * 1000 else "transformer_2"
        if expert in experts:
            return s, expert
    raise RuntimeError(f"no noise level for {experts} in 1000 draws (boundary {boundary})")


def rank_share(batch: list[int], rank: int, world: int) -> list[int]:
    """This process's part of a step's batch (every `world`-th sample from `rank`); a process
    left without one (a short last batch) repeats the batch's first sample."""
    return batch[rank::world] or batch[:1]


class Trainer:
    def __init__(self, spec: JobSpec, job_dir: Path, report: Report) -> None:
        self.spec, self.job_dir, self.report = spec, job_dir, report
        self.dtype = DTYPES[spec.hp.get("precision", "bf16")]
        from accelerate import Accelerator

        self.accelerator = Accelerator(cpu=device_of(spec).type == "cpu")
        self.device = self.accelerator.device
        self.main = self.accelerator.is_main_process
        self.checkpoints = job_dir / "checkpoints"
        # fp16 gradients underflow without a loss scale (bf16 and fp32 need none)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

    # --- the model ------------------------------------------------------------------------

    def _pipeline(self) -> Any:
        from diffusers import WanPipeline

        from wanbuild.local.render import quiet

        quiet()
        pipe = WanPipeline.from_pretrained(str(self.spec.weights), dtype=self.dtype)
        pipe.vae.to(torch.float32)  # Wan's VAE overflows in half precision
        return pipe

    def _lora(self, transformer: Any) -> None:
        from peft import LoraConfig

        hp = self.spec.hp
        transformer.add_adapter(
            LoraConfig(
                r=int(hp["lora_rank"]),
                lora_alpha=float(hp["lora_alpha"]),
                lora_dropout=float(hp["lora_dropout"]),
                init_lora_weights=True,
                target_modules=list(lora_format.TARGET_MODULES),
            )
        )
        for p in transformer.parameters():
            if p.requires_grad:  # LoRA weights train in fp32 whatever the base precision
                p.data = p.data.float()
        if hp.get("gradient_checkpointing"):
            transformer.enable_gradient_checkpointing()

    # --- the run --------------------------------------------------------------------------

    def run(self) -> None:
        spec, hp = self.spec, self.spec.hp
        if self.main:  # checkpoints a killed worker was writing: never complete, never read
            for torn in self.checkpoints.glob(".checkpoint-*.tmp"):
                shutil.rmtree(torn, ignore_errors=True)
        pipe = self._pipeline()
        pipe.set_progress_bar_config(disable=True)
        cache = EncodeCache(spec.cache_dir, spec)
        samples, encoded = cache.encode_all(pipe, spec.train_samples(), self.device, self.dtype)
        self.report(event="encoded", encoded=encoded, cached=len(samples) - encoded)
        for module in (pipe.text_encoder, pipe.vae):
            module.to("cpu")  # kept for the previews, off the accelerator while training

        experts = spec.experts
        boundary = float(pipe.config.get("boundary_ratio") or 0.0) if pipe.transformer_2 else 0.0
        trained: dict[str, Any] = {}
        for name in EXPERT_MODULES:
            module = getattr(pipe, name, None)
            if module is None:
                continue
            module.requires_grad_(False)
            if name in experts:  # an expert that does not train waits on the CPU
                module.to(self.device)
                self._lora(module)
                module.train()
                trained[name] = module
        params = [p for m in trained.values() for p in m.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=float(hp["learning_rate"]), weight_decay=0.0)
        models = dict(trained)
        if self.accelerator.num_processes > 1:  # one process needs no wrapping (nor its cost)
            *modules, optimizer = self.accelerator.prepare(*trained.values(), optimizer)
            models = dict(zip(trained, modules, strict=True))

        # batch_size is the batch of a step whatever the number of processes (each takes its
        # share): the steps, checkpoints and the result do not depend on how many GPUs train
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        batch = int(hp["batch_size"])
        per_epoch = max(1, math.ceil(len(samples) / batch))
        epochs = int(hp["n_epochs"])
        total = per_epoch * epochs
        start = self._resume(trained, optimizer)
        shift = float(pipe.scheduler.config.get("shift", 1.0))
        self.report(event="start", step=start, total=total, resumed=start > 0, processes=world)
        began, done_here, stepping = time.monotonic(), 0, 0.0
        eval_every = max(1, int(hp["eval_epochs"]))

        for epoch in range(start // per_epoch, epochs):
            order = torch.randperm(
                len(samples), generator=torch.Generator().manual_seed(spec.seed + epoch)
            ).tolist()
            for b in range(per_epoch):
                step = epoch * per_epoch + b
                picked = rank_share(order[b * batch : (b + 1) * batch], rank, world)
                clock = time.perf_counter()
                loss = self._step(
                    models, optimizer, [samples[i] for i in picked], step, shift, experts, boundary
                )
                done_here += 1
                per_step = (time.monotonic() - began) / done_here
                self.report(
                    event="step",
                    step=step + 1,
                    total=total,
                    epoch=epoch + 1,
                    loss=loss,
                    eta_s=per_step * (total - step - 1),
                    steps_s=stepping + time.perf_counter() - clock,
                    checkpoint_next=b + 1 == per_epoch and (epoch + 1) % eval_every == 0,
                )
                stepping += time.perf_counter() - clock  # steps and their reports, this run
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                self._checkpoint(pipe, trained, optimizer, (epoch + 1) * per_epoch, epoch + 1)
        self.accelerator.wait_for_everyone()

    def _step(
        self,
        models: dict[str, Any],
        optimizer: Any,
        batch: list[Sample],
        step: int,
        shift: float,
        experts: tuple[str, ...],
        boundary: float,
    ) -> float:
        # one noise level for every process (they must all run the same expert), noise of
        # each process's own
        g = torch.Generator().manual_seed(self.spec.seed * 1_000_003 + step)
        s, expert = noise_level(g, shift, experts, boundary)
        latents = torch.cat([x.latents for x in batch]).to(self.device, torch.float32)
        text = torch.cat([x.text for x in batch]).to(self.device, self.dtype)
        g.manual_seed((self.spec.seed * 1_000_003 + step) * 7919 + self.accelerator.process_index)
        noise = torch.randn(latents.shape, generator=g).to(self.device)
        noisy = (1 - s) * latents + s * noise
        timestep = torch.full((latents.shape[0],), s * 1000, device=self.device)
        mixed = self.dtype != torch.float32
        with torch.autocast(self.device.type, dtype=self.dtype) if mixed else nullcontext():
            pred = models[expert](
                hidden_states=noisy.to(self.dtype),
                timestep=timestep,
                encoder_hidden_states=text,
                return_dict=False,
            )[0]
        loss = torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())
        scaled: torch.Tensor = self.scaler.scale(loss)
        torch.autograd.backward(scaled)  # under DDP its hooks average the gradients
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if self.accelerator.num_processes == 1:
            return float(loss)
        return float(self.accelerator.reduce(loss.detach(), reduction="mean"))

    # --- checkpoints ----------------------------------------------------------------------

    def _resume(self, trained: dict[str, Any], optimizer: Any) -> int:
        """The step of the last complete checkpoint, its LoRA and optimizer loaded (0: none)."""
        from peft.utils import set_peft_model_state_dict
        from safetensors.torch import load_file

        last = last_checkpoint(self.checkpoints)
        if last is None:
            return 0
        path, manifest = last
        for name, module in trained.items():
            state = lora_format.from_wan(load_file(str(path / f"{name}.safetensors")))
            set_peft_model_state_dict(module, state)
        state = torch.load(path / "optimizer.pt", map_location=self.device, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        return int(manifest["step"])

    def _checkpoint(
        self, pipe: Any, trained: dict[str, Any], optimizer: Any, step: int, epoch: int
    ) -> None:
        self.accelerator.wait_for_everyone()
        if not self.main:
            return
        name = f"checkpoint-{step}"
        final = self.checkpoints / name
        if final.exists():
            return
        tmp = self.checkpoints / f".{name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        files = save_lora(trained, tmp, self.spec, self.accelerator)
        torch.save(
            {"optimizer": optimizer.state_dict(), "scaler": self.scaler.state_dict()},
            tmp / "optimizer.pt",
        )
        previews = self._previews(pipe, tmp / "previews")
        manifest = {
            "checkpoint": name,
            "step": step,
            "epoch": epoch,
            "experts": list(trained),
            "files": files,
            "previews": previews,
            "created": now(),
        }
        write_json(tmp / "manifest.json", manifest)  # last: the checkpoint is complete
        os.replace(tmp, final)
        self.report(event="checkpoint", checkpoint=name, step=step)

    def _previews(self, pipe: Any, out: Path) -> list[dict[str, str]]:
        """One clip per validation prompt, rendered by the pipeline with the LoRA as trained so
        far (seeded: the same prompt gives the same noise at every checkpoint)."""
        from wanbuild.local.render import render

        prompts = self.spec.validation
        if not prompts:
            return []
        out.mkdir(parents=True)
        idle = [pipe.text_encoder, pipe.vae] + [
            getattr(pipe, n)
            for n in EXPERT_MODULES
            if getattr(pipe, n, None) is not None and n not in self.spec.experts
        ]
        for module in idle:
            module.to(self.device)
        rows = []
        try:
            for i, prompt in enumerate(prompts):
                path = out / f"{i}.mp4"
                render(pipe, prompt, self.spec, path, self.device)
                rows.append({"prompt": prompt, "video": f"previews/{i}.mp4"})
        finally:
            for module in idle:
                module.to("cpu")
        return rows


def save_lora(trained: dict[str, Any], out: Path, spec: JobSpec, accelerator: Any) -> list[str]:
    """Each trained expert's LoRA, in the exported key format, with its metadata."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    files = []
    for name, module in trained.items():
        state = get_peft_model_state_dict(accelerator.unwrap_model(module))
        wan = lora_format.to_wan(
            {k: v.detach().float().cpu().contiguous() for k, v in state.items()},
            float(spec.hp["lora_alpha"]),
            lambda a: torch.tensor(a, dtype=torch.float32),
        )
        save_file(wan, str(out / f"{name}.safetensors"), metadata=spec.lora_metadata(name))
        files.append(f"{name}.safetensors")
    return files
