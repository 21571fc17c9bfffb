"""Print each installed package whose version differs from .ci/constraints.txt (the lock).

    python .ci/versions.py [LOCK]

One line per package: its name, the locked version and the installed one; then the packages
installed that the lock does not name. Exits 0: a difference is information, the tests decide.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name


def locked(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        req, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = req.partition("==")
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def main() -> int:
    lock = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("constraints.txt"))
    pins = locked(lock)
    here = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    for tool in ("wanbuild", "pip", "uv"):
        here.pop(tool, None)
    differ = [
        (name, pins[name], version)
        for name, version in sorted(here.items())
        if name in pins and pins[name] != version.split("+", 1)[0]
    ]
    extra = sorted(set(here) - set(pins))
    print(f"differs from the lock ({lock}): {len(differ)} package(s)")
    for name, was, now in differ:
        print(f"  {name}: {was} locked, {now} installed")
    if extra:
        print(f"not in the lock: {', '.join(f'{n} {here[n]}' for n in extra)}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
