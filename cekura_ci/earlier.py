"""Earlier results of the agent, for the baseline and the history: the results list read once per
name prefix (every page, within a bound), each detail fetched once, all within a time budget.

Cekura's list promises no order and its `search` matches any part of a name, in any case, so the
rows are filtered here (the exact start of the name, this agent, never this step's own result)
and sorted here (by `created_at`, then id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cekura_ci.client import CekuraClient
from cekura_ci.errors import CekuraCIError
from cekura_ci.gating import parse_time
from cekura_ci.models import Result
from cekura_ci.timing import Backoff, Clock, format_duration, ride_out

T = TypeVar("T")

#: Statuses of a result that ran to its end: `failed` is Cekura's word for a result with
#: infrastructure failures. A cancelled or timed-out result was cut short: never a baseline.
FINISHED = frozenset({"completed", "failed"})
PAGE_SIZE = 100
#: At most this many pages of the list are read (PAGE_SIZE results each).
MAX_PAGES = 10
#: Seconds the whole look-up (baseline and history) may take, retries included.
TIME_BUDGET = 120.0
#: Seconds of consecutive transient failures one request may ride out.
OUTAGE_BUDGET = 30.0

_OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


class OutOfTime(CekuraCIError):
    """The look-up of earlier results used up its time budget."""


@dataclass(frozen=True)
class Listing:
    """The finished results whose names start with a prefix, newest first."""

    results: list[Result]
    #: False when the list had more pages than are read: older results may be missing.
    complete: bool
    #: Results with that prefix still running (or cut short) that are newer than the newest
    #: finished one: not used, but worth saying.
    newer_unfinished: list[Result] = field(default_factory=list)


def newest_first(results: list[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (parse_time(r.created_at) or _OLDEST, r.id), reverse=True)


@dataclass
class Earlier:
    client: CekuraClient
    clock: Clock
    backoff: Backoff
    agent_id: int | None
    budget: float = TIME_BUDGET
    outage: float = OUTAGE_BUDGET
    max_pages: int = MAX_PAGES
    _deadline: float | None = field(default=None, init=False)
    _listings: dict[tuple[str, int | None], Listing] = field(default_factory=dict, init=False)
    _details: dict[int, Result] = field(default_factory=dict, init=False)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        if self._deadline is None:
            self._deadline = self.clock.now() + self.budget
        if self.clock.now() >= self._deadline:
            raise OutOfTime(
                f"looking up earlier results took longer than {format_duration(self.budget)}"
            )
        with self.clock.cancel.interruptible():  # a cancelled job stops looking at once
            return ride_out(
                call,
                what=what,
                clock=self.clock,
                backoff=self.backoff,
                budget=self.outage,
                deadline=self._deadline,
            )

    def named(self, prefix: str, exclude_id: int | None) -> Listing:
        """Finished results of the agent whose names start with `prefix` exactly."""
        key = (prefix, exclude_id)
        if key not in self._listings:
            self._listings[key] = self._list(prefix, exclude_id)
        return self._listings[key]

    def _list(self, prefix: str, exclude_id: int | None) -> Listing:
        rows: dict[int, Result] = {}
        complete = False
        for page in range(1, self.max_pages + 1):
            answer = self._call(
                "reading the results list",
                lambda page=page: self.client.list_results(
                    search=prefix, agent_id=self.agent_id, page=page, page_size=PAGE_SIZE
                ),
            )
            for row in answer.results:
                rows.setdefault(row.id, row)
            if not answer.next or not answer.results:
                complete = True
                break
        mine = [
            r
            for r in rows.values()
            if (r.name or "").startswith(prefix)
            and r.id != exclude_id
            and (self.agent_id is None or r.agent in (None, self.agent_id))
        ]
        ordered = newest_first(mine)
        finished = [r for r in ordered if r.status in FINISHED]
        newest = finished[0] if finished else None
        newer = []
        for r in ordered:
            if r is newest:
                break
            newer.append(r)
        return Listing(finished, complete, newer)

    def detail(self, result_id: int) -> Result:
        if result_id not in self._details:
            self._details[result_id] = self._call(
                f"fetching result {result_id}", lambda: self.client.get_result(result_id)
            )
        return self._details[result_id]
