"""The shared listing that waiting effects observe from (reconcile.watch), as a pure rule: one
listing serves everyone waiting, none is older than what its user last did, at most one per
interval, and a listing for a create is taken at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from wanbuild.reconcile.watch import _SAFETY, Watch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingService:
    """Stands in for the client: each listing of jobs is counted and stamped with the clock."""

    def __init__(self, clock: Clock, gate: threading.Event | None = None) -> None:
        self.clock, self.gate, self.job_listings = clock, gate, 0
        self.listing_started = 0

    def iter_jobs(self) -> list[Any]:
        self.listing_started += 1
        if self.gate is not None:
            assert self.gate.wait(5), "the test never let the listing finish"
        self.job_listings += 1
        return []

    def iter_deployments(self) -> list[Any]:
        return []


def watch(clock: Clock, service: CountingService, interval: float = 30.0) -> Watch:
    return Watch(service, interval, clock=clock)  # type: ignore[arg-type]


def waiting_at_once(
    w: Watch, since: float, n: int, *, then: Callable[[], object] = lambda: None
) -> list[object]:
    """What `n` effects that last looked at `since` get from waiting at once (`then` runs
    once they are all started)."""
    stop = threading.Event()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(w.after(since, stop))) for _ in range(n)]
    for t in threads:
        t.start()
    then()
    for t in threads:
        t.join(5)
    return got


def test_every_effect_waiting_at_once_shares_one_listing() -> None:
    clock = Clock()
    gate = threading.Event()
    service = CountingService(clock, gate)
    w = watch(clock, service)
    since = clock.now - 60  # their last looks were a minute ago: a listing is due
    got = waiting_at_once(w, since, 20, then=gate.set)
    assert len(got) == 20
    assert len({id(i) for i in got}) == 1
    assert service.job_listings == 1


def test_a_listing_is_never_older_than_the_last_look_and_waits_one_interval() -> None:
    clock = Clock()
    service = CountingService(clock)
    w = watch(clock, service, interval=30.0)
    stop = threading.Event()
    first = w.after(clock.now - 60, stop)
    assert service.job_listings == 1
    # an effect that looked after that listing began gets a new one, not before its interval
    looked = clock.now + 1
    result: list[object] = []
    waiter = threading.Thread(target=lambda: result.append(w.after(looked, stop)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()
    assert service.job_listings == 1
    clock.now = looked + 30
    w.wake()  # a manual clock wakes no one by itself
    waiter.join(1)
    assert result
    assert result[0] is not first
    assert service.job_listings == 2


def test_a_create_gets_a_listing_begun_after_it_asked_without_waiting_an_interval() -> None:
    clock = Clock()
    service = CountingService(clock)
    w = watch(clock, service, interval=3600.0)
    stop = threading.Event()
    w.after(clock.now - 7200, stop)
    clock.now += 1  # the create comes one second after the last listing
    before = w.fresh(stop).jobs()  # a job create lists the jobs (only them) afresh
    assert before == []
    assert service.job_listings == 2


def test_creates_asking_while_a_listing_is_under_way_share_it() -> None:
    """The effects that create at the start of a run all ask at once: the listing under way
    when they ask serves them (it began less than a listing's time before), not one each."""
    clock = Clock()
    gate = threading.Event()
    service = CountingService(clock, gate)
    w = watch(clock, service, interval=3600.0)
    stop = threading.Event()
    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(w.fresh(stop)))
    first.start()
    while service.listing_started == 0:  # the first create's listing is under way
        first.join(0.01)
    clock.now += 1  # the others ask one second into it
    others = [threading.Thread(target=lambda: got.append(w.fresh(stop))) for _ in range(20)]
    for t in others:
        t.start()
    clock.now += 1  # and it takes two seconds in all
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert len(got) == 21
    assert len({id(i) for i in got}) == 1
    assert service.job_listings == 1
    # a create asking later than a listing's time after it began gets a new one
    clock.now += 3
    assert w.fresh(stop) is not got[0]
    assert service.job_listings == 2


def test_stop_ends_the_wait() -> None:
    clock = Clock()
    w = watch(clock, CountingService(clock), interval=3600.0)
    stop = threading.Event()
    w.after(clock.now - 7200, stop)
    result: list[object] = []
    waiter = threading.Thread(target=lambda: result.append(w.after(clock.now, stop)))
    waiter.start()
    stop.set()
    w.wake()
    waiter.join(1)  # woken at once, not at the end of its interval
    assert result == [None]


class CountingCondition(threading.Condition):
    """The watch's condition, counting the waits that end by a timeout shorter than the
    watch's safety net (_SAFETY): each is a waiter that wakes by itself to list."""

    def __init__(self) -> None:
        super().__init__()
        self.timed = 0

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout < _SAFETY:
            self.timed += 1
        return super().wait(timeout)


def test_of_many_waiters_due_at_once_one_wakes_to_list_and_the_listing_wakes_the_rest() -> None:
    service = CountingService(Clock())
    w = Watch(service, 0.2)  # type: ignore[arg-type]  # the real clock
    w._cond = cond = CountingCondition()
    since = w.clock()  # they all just looked: a listing is due an interval from now
    got = waiting_at_once(w, since, 30)
    assert len(got) == 30
    assert len({id(i) for i in got}) == 1
    assert service.job_listings == 1
    assert cond.timed == 1  # not one timed sleep per waiter
