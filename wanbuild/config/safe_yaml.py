"""The one YAML reader for every file wanbuild reads: bounded, strict, and clear about why.

Refused before anything else (Hydra included) sees the file, each with the file, the line and
the fix: more than MAX_BYTES; a byte-order mark; bytes that are not UTF-8; more than
MAX_ALIASES alias references (a "billion laughs" expands them exponentially downstream); a key
given twice in one mapping (naming both lines: YAML would silently keep the last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wanbuild.errors import ConfigError

MAX_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 64
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

try:  # libyaml's parser when present: much faster on large samples.yaml files
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class _StrictLoader(_Base):  # type: ignore[misc]
    """Safe loading that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            line = key_node.start_mark.line + 1
            if first is not None:
                raise _Duplicate(key, first, line)
            seen[key] = line
        return dict(super().construct_mapping(node, deep=deep))


class _Duplicate(Exception):
    def __init__(self, key: Any, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def read_text(path: Path, shown: str) -> str:
    """The file's text, refused when too large, with a BOM, or not UTF-8."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ConfigError(f"{shown}: cannot be read ({e.strerror})") from None
    if size > MAX_BYTES:
        raise ConfigError(
            f"{shown}: {size:,} bytes, over the {MAX_BYTES:,} a wanbuild file may hold; "
            "split the samples across effects or trim the file"
        )
    data = path.read_bytes()
    if data.startswith(_BOMS):
        raise ConfigError(f"{shown}: starts with a byte-order mark; save it as UTF-8 without a BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{shown}: line {line}: byte {data[e.start]:#04x} is not UTF-8; save the file as UTF-8"
        ) from None


def loads(text: str, shown: str) -> Any:
    """Parse YAML text with the bounds above."""
    aliases = 0
    try:
        for event in yaml.parse(text, Loader=_Base):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise ConfigError(
                        f"{shown}: line {line}: more than {MAX_ALIASES} alias references "
                        "(*name); write the values out instead of expanding anchors"
                    )
        return yaml.load(text, Loader=_StrictLoader)
    except _Duplicate as d:
        raise ConfigError(
            f"{shown}: line {d.second}: key {d.key!r} is given twice (first on line "
            f"{d.first}); YAML would keep only the last: remove one"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{shown}: {where}not valid YAML ({problem})") from None


def load(path: Path, shown: str) -> Any:
    return loads(read_text(path, shown), shown)
