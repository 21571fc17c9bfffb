"""Where things are: the project an effect belongs to, its conf/, the effects under effects/.
Plain path lookups, importable before anything heavy (the command line starts the stat walk of
a run with them, while the rest loads)."""

from __future__ import annotations

from pathlib import Path

from wanbuild.errors import ConfigError

EFFECT_FILE = "effect.yaml"
SAMPLES_FILE = "samples.yaml"
_PACKAGED_CONF = Path(__file__).resolve().parent.parent / "_conf"
_SOURCE_CONF = Path(__file__).resolve().parent.parent.parent / "conf"

PROJECT_MARKERS = ("dvc.yaml", ".git", "conf/config.yaml")


def project_root(start: Path) -> Path:
    """The nearest directory above `start` that holds dvc.yaml, .git or conf/; else the cwd."""
    for d in (start.resolve(), *start.resolve().parents):
        if any((d / marker).exists() for marker in PROJECT_MARKERS):
            return d
    return Path.cwd().resolve()


def display(path: Path) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_conf_dir(start: Path) -> Path:
    """The project's conf/ (searched upwards from `start`), else the one wanbuild ships."""
    for d in (start.resolve(), *start.resolve().parents):
        if (d / "conf" / "config.yaml").is_file():
            return d / "conf"
    for candidate in (_SOURCE_CONF, _PACKAGED_CONF):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise ConfigError(f"no conf/config.yaml above {display(start)}, and none shipped with wanbuild")


def discover_effects(root: Path) -> list[Path]:
    if not root.is_dir():
        raise ConfigError(
            f"{display(root)}: no such directory; name an effect directory to work on"
        )
    found = sorted(p.parent for p in root.glob(f"*/{EFFECT_FILE}"))
    if not found:
        raise ConfigError(
            f"{display(root)}: no effects (no */{EFFECT_FILE}); create one with `wanbuild init`"
        )
    return found
