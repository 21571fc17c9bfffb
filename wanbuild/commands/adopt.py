"""`wanbuild adopt EFFECT ID`: record an object on the service as the effect's own.

For the cases wanbuild will not settle alone: a create whose reply was lost with several
candidates (or none visible), or a wanbuild.lock that was lost while its objects live on. The
object must not belong to another effect; a job must train the effect's base model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import open_session, say_to
from wanbuild.errors import EXIT_OK, WanbuildError
from wanbuild.reconcile.execute import Executor, adopt


def adopt_command(effect_dir: Path, remote_id: str, overrides: list[str], out: TextIO) -> int:
    if any("=" not in o and not o.startswith(("+", "~")) for o in overrides):
        raise WanbuildError(f"adopt takes one effect and one id: {' '.join(overrides)}")
    session = open_session([effect_dir], overrides, out, build=True)
    gate = None
    try:
        [item] = session.items
        effect = item.desired.effect
        gate = item.gate(say_to(out, effect), 600.0, "adopt")
        if gate is not None:  # what is adopted is recorded where every machine sees it
            gate.enter()
        lock = item.locked(gate)
        executor = Executor(item.client, item.desired, lock, lambda _t: None, item.claims)
        what = adopt(executor, remote_id, intent_key=None)
        print(f"{effect}: adopted {what} {remote_id}", file=out)
    finally:
        if gate is not None:
            gate.release()
        session.close()
    return EXIT_OK
