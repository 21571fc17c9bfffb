"""Effect names: one documented charset, checked by every command and by `init`.

    [a-z][a-z0-9_]*, at most 48 characters (the directory name under effects/)

Lower case only, so that no two effects differ only by case on a case-insensitive disk; no
spaces, dots or hyphens, so that the name is safe as a DVC stage key (`build@<name>`), a zip
path and a remote name fragment, where `_` becomes `-` (`wb-dolly-zoom-...`): with hyphens
excluded from names, that mapping is one to one, so no two effects share a remote name.
"""

from __future__ import annotations

import re

EFFECT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_EFFECT_NAME = 48


def effect_name_problem(name: str) -> str | None:
    """Why `name` cannot name an effect, with the fix; None when it can."""
    if len(name) > MAX_EFFECT_NAME:
        return f"is {len(name)} characters long; at most {MAX_EFFECT_NAME}"
    if not EFFECT_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "effect"
        if not suggestion[0].isalpha():
            suggestion = f"fx_{suggestion}"
        return (
            "must start with a lower-case letter and hold only lower-case letters, digits "
            f"and _ (rename the directory, e.g. to {suggestion!r})"
        )
    return None


MAX_SAMPLE_ID = 64


def sample_id_from(file_name: str, taken: set[str]) -> str:
    """A sample id made from a media file's name: ASCII letters, digits, `_` and `-` (the
    region's file-name rule; zip entries are named after ids), lower case (no two differ only
    by case on a case-insensitive disk), unique among `taken` (which it joins)."""
    import unicodedata

    stem = file_name.rsplit(".", 1)[0] if "." in file_name.lstrip(".") else file_name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9_-]+", "_", ascii_stem.lower()).strip("_-")[:MAX_SAMPLE_ID]
    base = base or "sample"
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    taken.add(candidate)
    return candidate
