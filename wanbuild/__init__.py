"""wanbuild: a declarative build tool for LoRA fine-tunes of Wan models on Model Studio."""

__version__ = "0.1.0"
