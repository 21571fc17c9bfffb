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
