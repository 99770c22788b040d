"""When to poll next: every N seconds, or `auto`, which spends requests where the end can happen.

Pure: each poll's result and the clock's reading in, seconds to wait out. `auto` earns one request
per 30 s of waiting (what Cekura's own action spends) and never spends more than it has earned, so it
never makes more requests than polling every 30 s would have made by the same moment. It saves while
the result is queued or its calls are far from done, and spends the savings once the calls have
ended and scoring is under way, when the end is near. Tuned on the simulation in
benchmarks/polling.py; the README shows its figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from cekura_ci.models import TERMINAL_STATUSES, Result

#: `auto` earns one request per this many seconds of waiting.
BUDGET_SECONDS = 30.0
#: The shortest and the longest wait between two polls.
MIN_SECONDS = 2.0
MAX_SECONDS = 120.0
#: While the result is queued, nothing can end soon.
QUEUED_SECONDS = 60.0
#: Until a first call ends, assume the calls need this much longer.
FIRST_CALL_SECONDS = 135.0
#: Once every call has started, the last of them may end within this.
ALL_STARTED_SECONDS = 120.0
#: How long scoring may go on after the last call ended (then: "any moment now").
SCORING_SECONDS = 90.0
#: Requests kept for scoring; savings beyond them make polling during the calls quicker.
RESERVE = 30

QUEUED_STATUSES = frozenset({"pending", "in_queue", "scaling_up"})
CALL_ENDED = TERMINAL_STATUSES | {"evaluating"}


class Schedule(Protocol):
    def after(self, result: Result, now: float) -> float:
        """Seconds to wait after the poll that answered `result` at `now`."""
        ...


@dataclass
class Fixed:
    """Every `seconds`, whatever the result says."""

    seconds: float

    def after(self, result: Result, now: float) -> float:
        return self.seconds


@dataclass
class Adaptive:
    """Slow while queued or far from done, quick while scoring; within one request per 30 s."""

    first_poll: float | None = None
    polls: int = 0
    queued_at: float | None = None
    calls_started: float | None = None
    calls_ended: float | None = None

    def after(self, result: Result, now: float) -> float:
        first = self.first_poll = now if self.first_poll is None else self.first_poll
        self.polls += 1
        total, started, ended = _calls(result)
        if self.calls_started is None and (started or result.status not in QUEUED_STATUSES):
            # They started after the last poll that found the result queued: say halfway.
            self.calls_started = now if self.queued_at is None else (self.queued_at + now) / 2
        elif self.calls_started is None:
            self.queued_at = now
        if self.calls_ended is None and (
            (total and ended >= total) or result.status == "evaluating"
        ):
            self.calls_ended = now
        earned = 1 + (now - first) / BUDGET_SECONDS - self.polls  # the next request included
        if self.calls_started is None:
            wanted = QUEUED_SECONDS
        elif self.calls_ended is None:
            left = _calls_left(now - self.calls_started, total, started, ended)
            # Savings beyond the reserve are spent on polling more often during the calls.
            wanted = min(left / 3, BUDGET_SECONDS * RESERVE / max(earned, 1.0))
        else:
            # What is left of the scoring window, spread over the requests at hand and those
            # the window itself will earn.
            window = max(self.calls_ended + SCORING_SECONDS - now, 10.0)
            wanted = window / max(earned + window / BUDGET_SECONDS, 1.0)
        if earned < 1:  # wait until the next request is earned
            wanted = max(wanted, (1 - earned) * BUDGET_SECONDS)
        return min(MAX_SECONDS, max(MIN_SECONDS, wanted))


def _calls_left(running_for: float, total: int, started: int, ended: int) -> float:
    """How long the calls still seem to need: projected from the share that ended, and no longer
    than ALL_STARTED_SECONDS once every call has started."""
    left = max(running_for, 1.0) * (total - ended) / ended if ended else FIRST_CALL_SECONDS
    return min(left, ALL_STARTED_SECONDS) if total and started >= total else left


def _calls(result: Result) -> tuple[int, int, int]:
    """(runs, calls started, calls ended), from the runs' own statuses."""
    total = max(len(result.runs), result.total_runs_count or 0)
    started = ended = 0
    for run in result.runs:
        if run.status in CALL_ENDED:
            ended += 1
        elif run.status in QUEUED_STATUSES or run.status == "unknown":
            continue
        started += 1
    return total, started, ended


def schedule_for(poll_interval: float | Literal["auto"]) -> Schedule:
    """`auto` or a fixed number of seconds, as the poll_interval input says."""
    return Adaptive() if poll_interval == "auto" else Fixed(float(poll_interval))
