"""When to poll: `auto` slows down while nothing can end and speeds up when the end is near,
within bounds and a budget; a number keeps fixed polling; Retry-After still wins."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from pydantic import SecretStr

from cekura_ci.client import RESULTS_PATH, CekuraClient, make_session
from cekura_ci.errors import WaitTimedOut
from cekura_ci.models import Result
from cekura_ci.schedule import (
    BUDGET_SECONDS,
    MAX_SECONDS,
    MIN_SECONDS,
    QUEUED_SECONDS,
    Adaptive,
    Fixed,
    schedule_for,
)
from cekura_ci.settings import Settings, SettingsError
from cekura_ci.timing import Backoff
from cekura_ci.waiter import Waiter
from tests.helpers import API_KEY, FakeClock

BASE = "https://api.cekura.test"
URL = BASE + RESULTS_PATH + "77/"


def answer(status: str, *run_statuses: str) -> dict[str, Any]:
    return {
        "id": 77,
        "status": status,
        "runs": {str(i): {"status": s} for i, s in enumerate(run_statuses, 1)},
    }


def result(status: str, *run_statuses: str) -> Result:
    return Result.model_validate(answer(status, *run_statuses))


def waiter(clock: FakeClock, backoff: Backoff, poll_interval: float | str, **kw: float) -> Waiter:
    client = CekuraClient(BASE, make_session(SecretStr("k")))
    options = {"timeout": 3600.0, "max_outage": 600.0, **kw}
    return Waiter(
        client, clock, backoff, poll_interval=poll_interval, on_progress=lambda _: None, **options
    )


def test_auto_when_result_is_queued_polls_once_a_minute() -> None:
    """Nothing can end while the result is queued: one poll a minute."""
    schedule, now = Adaptive(), 0.0
    for status in ("pending", "in_queue", "scaling_up", "in_queue"):
        wait = schedule.after(result(status, "pending", "pending"), now)
        assert wait == QUEUED_SECONDS
        now += wait


def test_auto_when_calls_are_far_from_done_polls_slowly_then_quickly_while_scoring() -> None:
    """Early in the calls the wait is long; once every call has ended (result `evaluating`) it is
    seconds, paid for by what was saved."""
    schedule, now = Adaptive(), 0.0
    waits = []
    for _ in range(4):
        waits.append(schedule.after(result("in_queue", "pending", "pending"), now))
        now += waits[-1]
    calls = []
    for _ in range(12):  # 1 of 8 calls has ended
        calls.append(schedule.after(result("running", "evaluating", *["running"] * 7), now))
        now += calls[-1]
    scoring = []
    for _ in range(5):
        scoring.append(schedule.after(result("evaluating", *["evaluating"] * 8), now))
        now += scoring[-1]
    assert min(calls) > 30 and max(scoring) < 10
    assert all(MIN_SECONDS <= wait <= MAX_SECONDS for wait in waits + calls + scoring)


def test_auto_when_every_call_has_started_expects_the_last_to_end_soon() -> None:
    """Once no run waits to start, the last call may end any minute: polls come sooner than the
    share of ended calls alone would suggest."""
    waits = {}
    for last in ("pending", "running"):
        schedule, now = Adaptive(), 0.0
        for _ in range(40):  # polling every 30 s spends all it earns: no savings
            schedule.after(result("running", "evaluating", "pending"), now)
            now += BUDGET_SECONDS
        waits[last] = schedule.after(result("running", "evaluating", last), now)
    assert waits["running"] < waits["pending"]


@pytest.mark.parametrize("status", ["in_queue", "running", "evaluating", "whatever"])
def test_auto_when_polled_for_hours_stays_within_bounds_and_budget(status: str) -> None:
    """Every wait is 2-120 s, and by any moment no more polls were made than one every 30 s
    allows (the first one included)."""
    schedule, now = Adaptive(), 0.0
    runs = ("evaluating", "running") if status == "running" else ("evaluating",)
    for polls in range(1, 501):
        assert polls <= 1 + now / BUDGET_SECONDS
        wait = schedule.after(result(status, *runs), now)
        assert MIN_SECONDS <= wait <= MAX_SECONDS
        now += wait + 0.5  # the request itself takes time too


def test_schedule_for_when_given_a_number_is_fixed() -> None:
    """`poll_interval: 7` polls every 7 s whatever the result says; `auto` is adaptive."""
    assert schedule_for(7.0) == Fixed(7.0)
    assert Fixed(7.0).after(result("evaluating", "evaluating"), 1e6) == 7.0
    assert isinstance(schedule_for("auto"), Adaptive)


@responses.activate
def test_wait_when_interval_is_a_number_polls_at_that_interval(
    clock: FakeClock, backoff: Backoff
) -> None:
    """A number keeps today's fixed polling in every phase."""
    for status in ("in_queue", "running", "evaluating", "evaluating", "completed"):
        responses.get(URL, json=answer(status, "evaluating"))
    assert waiter(clock, backoff, 7.0).wait(77).status == "completed"
    assert clock.sleeps == [7.0] * 4


@responses.activate
def test_wait_when_auto_and_scoring_polls_within_seconds(
    clock: FakeClock, backoff: Backoff
) -> None:
    """Through the real waiter: a minute between polls while queued, seconds once scoring."""
    for status, runs in [("in_queue", "pending")] * 10 + [("evaluating", "evaluating")] * 3:
        responses.get(URL, json=answer(status, runs))
    responses.get(URL, json=answer("completed", "completed"))
    assert waiter(clock, backoff, "auto").wait(77).status == "completed"
    assert clock.sleeps[:10] == [QUEUED_SECONDS] * 10
    assert all(MIN_SECONDS <= wait < 10 for wait in clock.sleeps[10:])


@responses.activate
def test_wait_when_auto_and_retry_after_asks_longer_retry_after_wins(
    clock: FakeClock, backoff: Backoff
) -> None:
    """While scoring, `auto` would poll within seconds; a 429 asking for 45 s is honoured."""
    for _ in range(10):
        responses.get(URL, json=answer("in_queue", "pending"))
    responses.get(URL, json=answer("evaluating", "evaluating"))
    responses.get(URL, status=429, headers={"Retry-After": "45"})
    responses.get(URL, json=answer("completed", "completed"))
    assert waiter(clock, backoff, "auto").wait(77).status == "completed"
    assert clock.sleeps[10] < 10 and clock.sleeps[11] == 45.0


@responses.activate
def test_wait_when_auto_and_the_result_never_ends_spends_no_more_than_every_30_s(
    clock: FakeClock, backoff: Backoff
) -> None:
    """An hour of `evaluating` costs at most the 121 polls that every 30 s would have made."""
    responses.get(URL, json=answer("evaluating", "evaluating"))
    with pytest.raises(WaitTimedOut):
        waiter(clock, backoff, "auto", timeout=3600).wait(77)
    assert 100 <= len(responses.calls) <= 1 + 3600 / BUDGET_SECONDS


@pytest.mark.parametrize(("given", "expected"), [(None, "auto"), (" Auto ", "auto"), ("15", 15.0)])
def test_poll_interval_when_auto_or_a_number_is_read(given: str | None, expected: object) -> None:
    """The input defaults to `auto`, takes it in any case, or a number of seconds."""
    raw = {"api_key": API_KEY, "result_id": "3", "poll_interval": given}
    assert Settings.from_inputs(raw).poll_interval == expected


@pytest.mark.parametrize("given", ["0.5", "fast", "-3", "nan"])
def test_poll_interval_when_neither_auto_nor_a_number_of_seconds_is_refused(given: str) -> None:
    """The refusal names the input and both accepted forms."""
    with pytest.raises(SettingsError, match=r"poll_interval: got .*expected auto or a number"):
        Settings.from_inputs({"api_key": API_KEY, "result_id": "3", "poll_interval": given})
