"""Adapter for configuration: Hydra/OmegaConf composition, YAML files, pydantic validation."""
