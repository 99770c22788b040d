"""Time, cancellation and riding out transient faults: the pieces every wait shares.

Nothing here sleeps with time.sleep: a Clock sleeps on the cancellation event, so a signal ends
any wait at once, and tests pass a fake clock that only moves a number forward.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from cekura_ci.errors import Cancelled, GaveUp, TransientApiError, WaitTimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")


class CancelToken:
    """Set by SIGINT/SIGTERM; remembers the first signal, which decides the exit code.

    Everything that waits watches it: sleeps, and every HTTP request (see CekuraClient), which is
    abandoned and its connection closed as soon as the token is set.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_number: int | None = None
        #: How many signals arrived; during `cleanup()` only those beyond `_set_aside` count.
        self.signals = 0
        self._set_aside = 0
        self._interruptible = False

    @property
    def cancelled(self) -> bool:
        return self.signals > self._set_aside

    def cancel(self, signal_number: int = signal.SIGINT) -> None:
        if self.signal_number is None:
            self.signal_number = int(signal_number)
        self.signals += 1
        self.event.set()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled(self.signal_number or signal.SIGINT)

    @contextlib.contextmanager
    def cleanup(self) -> Iterator[None]:
        """Tidying up after a cancel (ending the calls): the signals received so far are set aside,
        so the cleanup may send its requests, and the next one (the runner's SIGTERM, which comes
        about 7.5 s after its SIGINT) stops it at once."""
        saved = self._set_aside
        self._set_aside = self.signals
        self.event.clear()
        try:
            yield
        finally:
            self._set_aside = saved
            if self.cancelled:
                self.event.set()

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (only possible from the main thread)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    @staticmethod
    def release() -> None:
        """Once everything is written, ignore further signals: a late SIGTERM must not kill the
        interpreter while it shuts down and turn a clean exit code into a signal death."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """While inside, a signal raises Cancelled wherever the main thread is, so that long work
        between two requests (parsing a large answer) stops too, not only the waits."""
        self._interruptible = True
        try:
            self.check()
            yield
        finally:
            self._interruptible = False

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.cancel(signum)
        if self._interruptible:
            self._interruptible = False
            raise Cancelled(signum)


class Clock:
    """Monotonic time whose sleep ends early, raising Cancelled, when the token is set."""

    def __init__(self, cancel: CancelToken | None = None) -> None:
        self.cancel = cancel or CancelToken()

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.cancel.check()
        if seconds > 0 and self.cancel.event.wait(seconds):
            self.cancel.check()


@dataclass
class Backoff:
    """Exponential back-off with full jitter, bounded; a server's Retry-After wins when longer."""

    base: float = 1.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        jittered = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            return max(jittered, min(retry_after, 10 * self.cap))
        return jittered


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def ride_out(
    call: Callable[[], T],
    *,
    what: str,
    clock: Clock,
    backoff: Backoff,
    budget: float,
    deadline: float | None = None,
    retry_if: Callable[[TransientApiError], bool] = lambda _exc: True,
) -> T:
    """Call until it succeeds; retry transient faults for at most `budget` seconds in a row.

    Each retry says so in one line. Past the budget: GaveUp. Past the deadline: WaitTimedOut.
    Errors that `retry_if` declines are raised at once.
    """
    first_failure: float | None = None
    attempt = 0
    while True:
        try:
            return call()
        except TransientApiError as exc:
            if not retry_if(exc):
                raise
            now = clock.now()
            first_failure = now if first_failure is None else first_failure
            attempt += 1
            outage = now - first_failure
            delay = backoff.delay(attempt, exc.retry_after)
            if outage + delay > budget:
                raise GaveUp(
                    f"Gave up {what}: Cekura's API kept failing for {format_duration(outage)} "
                    f"({attempt} attempts in a row; last: {exc})."
                ) from exc
            if deadline is not None and now + delay >= deadline:
                raise WaitTimedOut(
                    f"Timed out {what} while Cekura's API was failing ({exc})."
                ) from exc
            hint = ", as Retry-After asked" if exc.retry_after is not None else ""
            log.info(
                "%s failed (%s); retrying in %s%s (attempt %d, outage %s of %s allowed)",
                what.capitalize(),
                exc,
                format_duration(delay),
                hint,
                attempt + 1,
                format_duration(outage),
                format_duration(budget),
            )
            clock.sleep(delay)
