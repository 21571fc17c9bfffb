"""One look at the remote for every effect that waits.

An apply of many effects spends its time waiting: for jobs to train, checkpoints to export,
deployments to come up. Were each effect to ask for its own objects by id every poll interval,
a few hundred effects would send hundreds of requests a second and wait on each other's CPU.
Instead the effects that wait share one listing of the remote (files, jobs, deployments; the
run's RemoteIndex), taken at most once per interval by whichever effect needs it first.

An effect only ever looks at a listing begun after its own last observation, and so after its
own last change to the remote: what it sees is never older than what it did. After acting, an
effect observes by id (converge does), not from the listing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from wanbuild.reconcile.index import RemoteIndex
from wanbuild.remote.client import Client


class Watch:
    def __init__(
        self, client: Client, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client, self.interval, self.clock = client, interval, clock
        self._cond = threading.Condition()
        self._index: RemoteIndex | None = None
        self._taken = float("-inf")  # when the current listing was begun
        self._refreshing = False
        self._cost = 0.0  # how long the last full listing took

    def fresh(self, stop: threading.Event) -> RemoteIndex:
        """What exists before a create: a listing begun at most as long ago as the last full
        listing took, else a new one, shared by every effect that asks meanwhile (each kind is
        listed when first asked for). A private listing begun now would be no younger by the
        time its last page arrived; hundreds of effects creating at once share a few."""
        index = self.after(self.clock() - self._cost, stop, interval=0.0)
        return index if index is not None else RemoteIndex(self.client)

    def after(
        self, since: float, stop: threading.Event, *, interval: float | None = None
    ) -> RemoteIndex | None:
        """A listing begun after `since` (this clock) and at least `interval` after it, shared
        with every effect waiting now; None when asked to stop. By default the interval is the
        watch's own, or twice what the last listing took if that is longer: a remote with many
        objects is listed less often rather than all the time."""
        eager = interval is None
        gap = max(self.interval, 2 * self._cost) if interval is None else interval
        with self._cond:
            while True:
                if stop.is_set():
                    return None
                if self._index is not None and self._taken > since:
                    return self._index
                now = self.clock()
                due = max(self._taken, since) + gap
                if self._refreshing:  # someone is listing: woken when it is done
                    self._cond.wait(timeout=0.25)
                elif now >= due:
                    self._refreshing = True
                    break
                else:
                    self._cond.wait(timeout=min(due - now, 0.25))
        began = self.clock()
        index = RemoteIndex(self.client)
        try:
            if eager:
                index.load()
                self._cost = self.clock() - began
        except BaseException:
            with self._cond:
                self._refreshing = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._refreshing = False
            if began > self._taken:
                self._index, self._taken = index, began
            self._cond.notify_all()
        return index
