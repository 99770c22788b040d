"""Poll a result until it reaches a terminal status, within a deadline, riding out faults.

How long to wait between polls is the schedule's call (schedule.py): a fixed interval, or `auto`.
While a large result runs, its row in the results list (statuses, no transcripts) stands in for
the detail, which is fetched once, when the row says the result has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from cekura_ci.client import CekuraClient
from cekura_ci.errors import RequestRejected, WaitTimedOut
from cekura_ci.models import Result
from cekura_ci.schedule import schedule_for
from cekura_ci.timing import Backoff, Clock, format_duration, ride_out

log = logging.getLogger(__name__)

#: From this many runs on, progress is read from the results list instead of the detail.
ROW_VIEW_RUNS = 200


def progress_line(result: Result, elapsed: float) -> str:
    """One line per poll, e.g. `[2m10s] running · 12/40 runs done · 9 passed · 3 failed`."""
    total, done, passed, failed = result.progress()
    return (
        f"[{format_duration(elapsed)}] {result.status} · {done}/{total} runs done · "
        f"{passed} passed · {failed} failed"
    )


class Waiter:
    """Keeps the last result seen, so a timeout, a cancellation or an outage can still report it."""

    def __init__(
        self,
        client: CekuraClient,
        clock: Clock,
        backoff: Backoff,
        *,
        poll_interval: float | Literal["auto"],
        timeout: float,
        max_outage: float,
        on_progress: Callable[[str], None] = log.info,
    ) -> None:
        self.client = client
        self.clock = clock
        self.backoff = backoff
        self.schedule = schedule_for(poll_interval)
        self.timeout = timeout
        self.max_outage = max_outage
        self.on_progress = on_progress
        self.last_result: Result | None = None
        #: The last result seen is the list's row (statuses only), not the detail.
        self.last_is_row = False
        #: (name, agent) to find the result's row by, once the detail showed a large result.
        self._row_search: tuple[str, int | None] | None = None
        self._row_tried = False

    def _fetch(self, result_id: int) -> Result:
        """The result's row while it runs, if it is large and the row can be found; else, and
        always at the end, the detail."""
        if self._row_search is not None:
            try:
                row = self.client.find_result_row(result_id, *self._row_search)
            except RequestRejected:
                row = None
            if row is None:
                log.debug("Result %s is not on the results list; polling its detail.", result_id)
                self._row_search = None
            elif not row.is_terminal:
                self.last_is_row = True
                return row
        detail = self.client.get_result(result_id)
        self.last_is_row = False
        if not (self._row_tried or detail.is_terminal) and len(detail.runs) >= ROW_VIEW_RUNS:
            self._row_tried = True
            if (detail.name or "").strip():
                self._row_search = (detail.name or "", detail.agent)
        return detail

    def wait(self, result_id: int) -> Result:
        started = self.clock.now()
        deadline = started + self.timeout
        while True:
            result = ride_out(
                lambda: self._fetch(result_id),
                what=f"polling result {result_id}",
                clock=self.clock,
                backoff=self.backoff,
                budget=self.max_outage,
                deadline=deadline,
            )
            self.last_result = result
            self.on_progress(progress_line(result, self.clock.now() - started))
            if result.is_terminal:
                return result
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                raise WaitTimedOut(
                    f"Result {result_id} was still {result.status} after {format_duration(self.timeout)}."
                )
            self.clock.sleep(min(self.schedule.after(result, self.clock.now()), remaining))
