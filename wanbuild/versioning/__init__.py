"""Adapter for DVC: the pipeline file (dvc.yaml). The only module that knows DVC's formats."""
