"""The local backend: LoRA training of the open-weights Wan models on this machine's GPUs.

`service` is the door the reconciler talks to (the same calls as the hosted client); it never
imports torch. The worker process (`worker`, `trainer`) does the training; `tiny` makes a tiny
random model in the diffusers layout for tests and the demo. Only the modules that train,
export or generate import torch, diffusers, peft, transformers or accelerate (the `local`
extra).
"""
