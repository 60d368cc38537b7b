"""Waiting for a state, never for a time: every test that acts and then looks polls with `wait_until`.

A start, a kill, a signal, a scrape, a write or an alert takes effect a little
later, and how much later depends on the machine and on what else it runs.
So a test asks again until what it expects holds, and fails after a deadline
saying what it saw last. The deadlines are generous on purpose: a wait returns
as soon as its state holds, so only a failing test ever sits them out, and a
machine three times slower with both cores busy still gets there.
"""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_SECONDS = 60.0  # a state that follows from what the test did
STARTUP_SECONDS = 120.0  # a process becoming ready, several of them starting at once on two shared cores


def wait_until(
    probe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    what: str,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.1,
    ignoring: tuple[type[Exception], ...] = (),
    context: Callable[[], str] | None = None,
    describe: Callable[[T], object] = lambda value: value,
) -> T:
    """Call `probe()` until `until(value)` holds and return that value.

    An exception of a type in `ignoring` means "not yet" (a server not listening yet); any other one
    propagates at once, so a probe fails fast by raising, e.g. on a process that exited. After `timeout`
    seconds the test fails naming `what` it waited for, the last value seen (as `describe` shows it) or
    exception, and `context()` (a log, say) when given.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ignoring as error:
            last: object = error
        else:
            if until(value):
                return value
            last = describe(value)
        if time.monotonic() >= deadline:
            more = f"\n{context()}" if context else ""
            raise AssertionError(f"waited {timeout:g}s for {what}; last seen: {last!r}{more}")
        time.sleep(interval)
