"""One look at the remote for every effect that waits.

An apply of many effects spends its time waiting: for jobs to train, checkpoints to export,
deployments to come up. Were each effect to ask for its own objects by id every poll interval,
a few hundred effects would send hundreds of requests a second and wait on each other's CPU.
Instead the effects that wait share one listing of the remote (files, jobs, deployments; the
run's RemoteIndex), taken at most once per interval by whichever effect needs it first.

An effect only ever looks at a listing begun after its own last observation, and so after its
own last change to the remote: what it sees is never older than what it did. After acting, an
effect observes by id (converge does), not from the listing. What exists before a create comes
from the same listings: one under way or just done when the create asks serves it, so the
hundreds of effects that upload or create at the start of a run share a few listings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection

from wanbuild.reconcile.index import Api, RemoteIndex
from wanbuild.remote.service import Service

# the longest a waiter sleeps without being woken: stopping calls wake()
_SAFETY = 5.0


class Watch:
    """`apis`: the upload APIs whose files every listing holds (besides jobs and deployments);
    files of another API are listed when first asked for."""

    def __init__(
        self,
        client: Service,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        apis: Collection[Api] = (),
    ) -> None:
        self.client, self.interval, self.clock = client, interval, clock
        self.apis = tuple(apis)
        self._cond = threading.Condition()
        self._index: RemoteIndex | None = None
        self._taken = float("-inf")  # when the current listing was begun
        self._refreshing = False
        self._cost = 0.0  # how long the last listing took
        # the earliest due any waiter sleeps until; the others sleep until a listing is done
        self._timer: float | None = None

    def fresh(self, stop: threading.Event) -> RemoteIndex:
        """What exists before a create: a listing begun at most as long ago as a listing takes
        (one under way when asked, or just done), else a new one, shared by every effect that
        asks meanwhile. A private listing begun now would be no younger by the time its last
        page arrived; hundreds of effects creating at once share a few."""
        asked = self.clock()
        index = self._shared(lambda: asked - self._cost, 0.0, stop)
        return index if index is not None else RemoteIndex(self.client)

    def after(self, since: float, stop: threading.Event) -> RemoteIndex | None:
        """A listing begun after `since` (this clock), shared with every effect waiting now,
        and begun at least an interval after `since`: the watch's own, or twice what the last
        listing took if that is longer (a remote with many objects is listed less often rather
        than all the time). None when asked to stop."""
        return self._shared(lambda: since, max(self.interval, 2 * self._cost), stop)

    def wake(self) -> None:
        """Every waiter looks at its stop event now (call after setting it)."""
        with self._cond:
            self._cond.notify_all()

    def _shared(
        self, since: Callable[[], float], gap: float, stop: threading.Event
    ) -> RemoteIndex | None:
        armed: float | None = None  # the due this waiter set the timer to
        with self._cond:
            while True:
                if stop.is_set():
                    if self._timer is not None:  # were it this one's, no one else would wake
                        self._timer = None
                        self._cond.notify_all()
                    return None
                if self._index is not None and self._taken > since():
                    return self._index
                now = self.clock()
                due = max(self._taken, since()) + gap
                if self._refreshing:  # someone is listing: woken when it is done
                    self._cond.wait(timeout=_SAFETY)
                elif now >= due:
                    self._refreshing, self._timer = True, None
                    break
                elif self._timer is None or due < self._timer or armed == self._timer:
                    # the first due: this waiter lists then (or is woken by a listing sooner)
                    self._timer = armed = due
                    self._cond.wait(timeout=min(due - now, _SAFETY))
                else:  # a listing by the waiter due first wakes this one: hundreds sleep
                    armed = None  # through it instead of all waking
                    self._cond.wait(timeout=_SAFETY)
        began = self.clock()
        index = RemoteIndex(self.client)
        try:
            index.load(self.apis)
        except BaseException:
            with self._cond:
                self._refreshing, self._timer = False, None
                self._cond.notify_all()
            raise
        with self._cond:
            self._refreshing, self._timer = False, None
            self._cost = self.clock() - began
            if began > self._taken:
                self._index, self._taken = index, began
            self._cond.notify_all()
        return index
