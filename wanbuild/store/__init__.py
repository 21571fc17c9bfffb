"""Adapter for wanbuild's own files: the hash cache, the fitted-media cache, the zips."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from wanbuild.core.fitting import Fit
from wanbuild.store.hashcache import HashCache

# Bump when media fitting changes its output for the same inputs.
FIT_VERSION = "2"


class Store:
    """wanbuild's working directory (the project's .wanbuild/, or $WANBUILD_HOME)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(os.environ.get("WANBUILD_HOME", ".wanbuild"))

    @classmethod
    def for_project(cls, project: Path) -> Store:
        """The project's .wanbuild/ (or $WANBUILD_HOME), wherever wanbuild runs from."""
        home = os.environ.get("WANBUILD_HOME")
        return cls(Path(home) if home else project / ".wanbuild")

    def hash_cache(self) -> HashCache:
        self._ignored_by_git()
        return HashCache(self.root / "cache" / "hashes.sqlite")

    def _ignored_by_git(self) -> None:
        """Caches, the emulator's state and the lock mirror are this machine's: never committed."""
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n", encoding="utf-8")

    def cut_frame_path(
        self, clip_sha256: str, which: str, trim_to_s: float | None, stack: str
    ) -> Path:
        """Where the frame cut from a clip is kept (content-addressed: made once per `stack`,
        the libraries that cut it)."""
        key = hashlib.sha256(f"{clip_sha256}|{which}|{trim_to_s}|{FIT_VERSION}|{stack}".encode())
        ext = ".jpg" if which == "first" else ".png"
        return self.root / "cache" / "frames" / f"{key.hexdigest()}{ext}"

    def fitted_path(self, source_sha256: str, fit: Fit, stack: str) -> Path:
        """Where a fitted file is kept: made once per source, fit and `stack` (the libraries
        that fit it, so a manifest's `built_with` is always what made its bytes)."""
        key = f"{source_sha256}|{fit.key()}|{FIT_VERSION}|{stack}"
        key = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "cache" / "fitted" / key[:2] / f"{key}{fit.ext}"
