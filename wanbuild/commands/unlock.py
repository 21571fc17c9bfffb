"""`wanbuild unlock EFFECT`: break the effect's lease on the git remote, on purpose.

For a lease whose apply is known to be gone (a cancelled CI run, a laptop closed mid-apply)
and that should not be waited out. The holder is shown first; an apply still running under it
stops before its next create or record, as its next push expects the lease it held.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from wanbuild.commands.session import confirm
from wanbuild.config.places import project_root
from wanbuild.errors import EXIT_ERROR, EXIT_OK, WanbuildError
from wanbuild.reconcile.lease import break_lease, current
from wanbuild.reconcile.shared_state import lease_ref
from wanbuild.versioning.gitrefs import GitRemote


def unlock_command(effect_dir: Path, remote_name: str, out: TextIO, *, yes: bool) -> int:
    effect = effect_dir.resolve().name
    remote = GitRemote(project_root(effect_dir), remote_name)
    url = remote.url()
    found = current(remote, effect)
    if found is None:
        print(f"{effect}: no lease is held on {remote_name} ({url})", file=out)
        return EXIT_OK
    sha, holder = found
    who = holder.describe() if holder else "an unreadable lease commit"
    print(f"{effect}: {lease_ref(effect)} on {remote_name} is held by {who}", file=out)
    if not yes and not confirm(out, "Break it?", "breaking a lease"):
        print("Not broken.", file=out)
        return EXIT_ERROR
    if not break_lease(remote, effect, sha):
        raise WanbuildError(
            f"{effect}: the lease changed while it was being broken (renewed or released); "
            "run `wanbuild unlock` again to see who holds it now"
        )
    print(
        f"{effect}: lease broken. An apply still running under it stops before it records or "
        "creates anything more.",
        file=out,
    )
    return EXIT_OK
