"""A lease per effect that every machine sees: refs/wanbuild/leases/<effect> on the git remote.

Taken by pushing a commit to the ref with the expectation that it does not exist (the remote
refuses when it does), renewed and released by pushes that expect the holder's own commit, so
that of two machines exactly one holds it, whatever their timing. The commit names who holds it
(host, user, pid, started, expires). A lease past its expiry (by this machine's clock: the
machines' clocks must agree to well within the ttl) is taken over with a message, expecting
the dead holder's commit, so two machines taking over at once still end with one holder;
`wanbuild unlock EFFECT` breaks one on purpose.

Every write of the effect's wanbuild.lock under the lease is pushed to its shared state
(reconcile.shared_state) in the same atomic push as a renewal of the lease, so nothing is
recorded, and no create is made after its intent, by a machine whose lease was taken over.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from wanbuild.errors import WanbuildError
from wanbuild.reconcile.lockfile import LockFile
from wanbuild.reconcile.shared_state import STATE_FILE, Marker, lease_ref, pull, state_ref
from wanbuild.versioning.gitrefs import GitRefsError, GitRemote, Update

LEASE_FILE = "lease.json"
POLL_S = 0.5  # between looks while another machine holds the lease


class LeaseBusy(WanbuildError):
    pass


class LeaseLost(WanbuildError):
    pass


@dataclass(frozen=True)
class Holder:
    host: str
    user: str
    pid: int
    started: float
    expires: float
    token: str
    command: str = "apply"

    def describe(self) -> str:
        return (
            f"{self.user}@{self.host} pid {self.pid} ({self.command}) since {_stamp(self.started)}"
            f", expires {_stamp(self.expires)}"
        )

    @classmethod
    def parse(cls, data: bytes) -> Holder | None:
        try:
            doc = json.loads(data.decode("utf-8"))
            return cls(**{k: doc[k] for k in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            return None


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def holder_of(remote: GitRemote, sha: str) -> Holder | None:
    try:
        return Holder.parse(remote.read(sha, LEASE_FILE))
    except GitRefsError:
        return None


class Lease:
    """This process's lease on one effect; `take` it, `publish` lock writes under it,
    `release` it. Renewed in the background every third of its ttl while held."""

    def __init__(
        self,
        remote: GitRemote,
        effect: str,
        ttl: float,
        marker: Marker,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        command: str = "apply",
    ) -> None:
        self.remote, self.effect, self.ttl, self.marker = remote, effect, ttl, marker
        self.say, self.clock, self.command = say, clock, command
        self.ref, self.state_ref = lease_ref(effect), state_ref(effect)
        self.held: str | None = None  # our commit on the lease ref
        self.state: str | None = None  # the state commit the remote holds
        self.started = clock()
        self.token = secrets.token_hex(8)
        self._mutex = threading.Lock()  # one push at a time: renewals and publishes
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # what the lease commit says
    def _commit(self) -> str:
        now = self.clock()
        holder = Holder(
            socket.gethostname(),
            _user(),
            os.getpid(),
            self.started,
            now + self.ttl,
            self.token,
            self.command,
        )
        data = json.dumps(asdict(holder), indent=2).encode()
        return self.remote.commit(
            {LEASE_FILE: data}, f"wanbuild lease on {self.effect}: {holder.describe()}"
        )

    def take(self, timeout: float, stop: threading.Event | None = None) -> dict[str, str]:
        """Hold the lease, waiting up to `timeout` seconds for another holder; the refs as
        fetched right after taking it (the state to plan from)."""
        deadline = time.monotonic() + timeout
        said: str | None = None
        while True:
            refs = self.remote.fetch()
            theirs = refs.get(self.ref)
            holder = holder_of(self.remote, theirs) if theirs else None
            if theirs is None or holder is None or holder.expires <= self.clock():
                mine = self._commit()
                if self.remote.push([Update(self.ref, mine, theirs)]).ok:
                    if theirs is not None:
                        self.say(
                            f"took over the lease on {self.effect} from "
                            + (
                                f"{holder.describe()}: it expired without being released"
                                if holder
                                else "an unreadable lease commit"
                            )
                        )
                    self.held = mine
                    break
                continue  # another machine moved it first: look again
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                raise LeaseBusy(
                    f"{self.effect}: another machine holds its lease ({holder.describe()}); "
                    f"wait for it (--lock-timeout), or if that apply is gone, "
                    f"`wanbuild unlock {self.effect}`"
                )
            if said != theirs:
                self.say(f"waiting for the lease held by {holder.describe()}")
                said = theirs
            if stop is not None:
                stop.wait(POLL_S)
            else:
                time.sleep(POLL_S)
        refs = self.remote.fetch()  # what the last holder pushed before releasing
        self.state = refs.get(self.state_ref)
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
        self._renewer.start()
        return refs

    def publish(self, text: str) -> None:
        """Push one write of the lock to the shared state, renewing the lease in the same
        atomic push; raises LeaseLost when the lease is no longer ours."""
        with self._mutex:
            if self.held is None:
                raise LeaseLost(f"{self.effect}: its lease is not held; nothing was recorded")
            state = self.remote.commit(
                {STATE_FILE: text.encode("utf-8")},
                f"wanbuild state of {self.effect}",
                parent=self.state,
            )
            lease = self._commit()
            pushed = self.remote.push(
                [Update(self.ref, lease, self.held), Update(self.state_ref, state, self.state)]
            )
            if not pushed.ok:
                self.held = None
                raise self.lost_error()
            self.held, self.state = lease, state
            self.marker.write(state)

    def lost_error(self) -> LeaseLost:
        return LeaseLost(
            f"{self.effect}: its lease was taken from this apply (`wanbuild unlock`, or it "
            "expired while this machine could not reach the remote); stopped before "
            "recording or creating anything more. Run `wanbuild apply` again: it plans from "
            "what the other machine recorded"
        )

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                with self._mutex:
                    if self.held is None:
                        return
                    lease = self._commit()
                    if not self.remote.push([Update(self.ref, lease, self.held)]).ok:
                        self.held = None
                        self.say(f"lost the lease on {self.effect}: another machine took it")
                        return
                    self.held = lease
            except GitRefsError as e:
                self.say(f"could not renew the lease on {self.effect} ({e}); trying again")

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)
        with self._mutex:
            held, self.held = self.held, None
            if held is None:
                return
            try:
                self.remote.push([Update(self.ref, None, held)])
            except GitRefsError as e:
                self.say(
                    f"could not release the lease on {self.effect} ({e}); it expires in "
                    f"{self.ttl:.0f} s, or `wanbuild unlock {self.effect}`"
                )


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def current(remote: GitRemote, effect: str) -> tuple[str, Holder | None] | None:
    """The effect's lease on the remote now: (its commit, who holds it), or None."""
    sha = remote.fetch().get(lease_ref(effect))
    return None if sha is None else (sha, holder_of(remote, sha))


def break_lease(remote: GitRemote, effect: str, sha: str) -> bool:
    """Delete the lease if it is still the commit `sha` (False: it moved meanwhile)."""
    return remote.push([Update(lease_ref(effect), None, sha)]).ok


class Gate:
    """An effect's lease as a command uses it: taken lazily, before the first create (an
    apply that finds nothing to do pushes nothing), the shared state pulled into the lock
    right after it is taken, every later write of the lock published under it."""

    def __init__(
        self,
        remote: GitRemote,
        effect: str,
        ttl: float,
        store_root: Path,
        lock: Callable[[], LockFile],
        *,
        say: Callable[[str], None],
        timeout: float,
        command: str = "apply",
    ) -> None:
        self.remote, self.effect, self.ttl, self.store_root = remote, effect, ttl, store_root
        self.lock, self.say, self.timeout, self.command = lock, say, timeout, command
        self.lease: Lease | None = None

    @property
    def held(self) -> bool:
        return self.lease is not None and self.lease.held is not None

    def enter(self, stop: threading.Event | None = None) -> bool | None:
        """Hold the lease; True when the shared state moved the lock (observe again), None
        when asked to stop while waiting for it."""
        if self.lease is not None:
            if self.lease.held is None:
                raise self.lease.lost_error()
            return False
        try:
            url = self.remote.url()
        except GitRefsError as e:
            raise WanbuildError(_no_remote(self.effect, self.remote.name, str(e))) from None
        marker = Marker(self.store_root, self.effect, url)
        lease = Lease(
            self.remote, self.effect, self.ttl, marker, say=self.say, command=self.command
        )
        try:
            refs = lease.take(self.timeout, stop)
        except LeaseBusy:
            if stop is not None and stop.is_set():
                return None
            raise
        except GitRefsError as e:
            raise WanbuildError(_no_remote(self.effect, self.remote.name, str(e))) from None
        self.lease = lease
        return pull(self.remote, refs, self.lock(), marker, self.say)

    def publish(self, text: str) -> None:
        """A write of the lock: pushed first while the lease is held (before it, the write
        is this machine's, pushed with the next write under the lease)."""
        if self.lease is not None:
            self.lease.publish(text)

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()


def _no_remote(effect: str, name: str, why: str) -> str:
    return (
        f"{effect}: cannot take its lease on the git remote {name!r} ({why}). Against the real "
        "service apply creates nothing without it: the lease is what keeps two machines (a CI "
        "runner and a laptop) from training this effect twice. Give this machine push access "
        f"to the project's shared git remote (`git remote add {name} URL`, or "
        "backend.lease_remote=NAME), or, if this project is only ever applied from this "
        "machine, say so with backend.lease=local"
    )
