"""An emulator of the documented Model Studio fine-tuning API: files, fine-tunes, checkpoints,
deployments and generation tasks, as an ASGI app. State on disk (SQLite), simulated time,
faults on demand. See docs/emulator.md for what it reproduces and what it does not."""
