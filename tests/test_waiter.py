"""Waiting: poll until terminal, keep waiting on unknown statuses, ride out faults, respect limits."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from pydantic import SecretStr

from cekura_ci.client import RESULTS_PATH, CekuraClient, make_session
from cekura_ci.errors import GaveUp, RequestRejected, WaitTimedOut
from cekura_ci.models import Result
from cekura_ci.timing import Backoff
from cekura_ci.waiter import Waiter, progress_line
from tests.helpers import FakeClock

BASE = "https://api.cekura.test"
URL = BASE + RESULTS_PATH + "77/"


def waiter(clock: FakeClock, backoff: Backoff, lines: list[str], **kwargs: float) -> Waiter:
    client = CekuraClient(BASE, make_session(SecretStr("k")))
    options = {"poll_interval": 10.0, "timeout": 3600.0, "max_outage": 600.0, **kwargs}
    return Waiter(client, clock, backoff, on_progress=lines.append, **options)


def status(name: str, runs: dict | None = None) -> dict:
    return {"id": 77, "status": name, "runs": runs or {}}


@responses.activate
def test_wait_when_statuses_move_to_completed_polls_every_interval(
    clock: FakeClock, backoff: Backoff
) -> None:
    """Each poll prints one progress line; the wait ends at the first terminal status."""
    for name in ("in_queue", "scaling_up", "running", "evaluating", "completed"):
        responses.get(URL, json=status(name))
    lines: list[str] = []
    result = waiter(clock, backoff, lines).wait(77)
    assert result.status == "completed"
    assert clock.sleeps == [10.0] * 4
    assert [line.split("] ")[1].split(" ·")[0] for line in lines] == [
        "in_queue",
        "scaling_up",
        "running",
        "evaluating",
        "completed",
    ]


@responses.activate
def test_wait_when_status_is_unknown_keeps_waiting(clock: FakeClock, backoff: Backoff) -> None:
    """A status not in today's schema means "not done yet"."""
    responses.get(URL, json=status("re_evaluating"))
    responses.get(URL, json=status("failed"))
    assert waiter(clock, backoff, []).wait(77).status == "failed"
    assert len(responses.calls) == 2


@responses.activate
def test_wait_when_faults_pass_retries_and_says_so(
    clock: FakeClock, backoff: Backoff, caplog: pytest.LogCaptureFixture
) -> None:
    """Connection errors, timeouts, 408, 429, 5xx, HTML and cut-off bodies are ridden out."""
    responses.get(URL, body=requests.ConnectionError("reset"))
    responses.get(URL, body=requests.ReadTimeout("slow"))
    responses.get(URL, status=408)
    responses.get(URL, status=429, headers={"Retry-After": "30"})
    responses.get(URL, status=502)
    responses.get(URL, body="<html>down</html>", content_type="text/html")
    responses.get(URL, body='{"id": 77, "sta', content_type="application/json")
    responses.get(URL, json=status("completed"))
    with caplog.at_level(logging.INFO, logger="cekura_ci"):
        assert waiter(clock, backoff, []).wait(77).status == "completed"
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 7
    assert any("as Retry-After asked" in line for line in retries)
    assert 30.0 in clock.sleeps  # Retry-After was honoured


@responses.activate
def test_wait_when_api_stays_down_past_budget_gives_up(clock: FakeClock, backoff: Backoff) -> None:
    """A long run of failures ends in GaveUp once the outage budget (time, not count) is spent."""
    responses.get(URL, status=503)
    with pytest.raises(GaveUp, match="kept failing"):
        waiter(clock, backoff, [], max_outage=120).wait(77)
    assert 60 <= clock.t <= 120
    assert all(sleep <= 60 for sleep in clock.sleeps)


@responses.activate
def test_wait_when_failures_are_not_consecutive_the_budget_resets(
    clock: FakeClock, backoff: Backoff
) -> None:
    """A good answer between failures starts the outage clock over."""
    for _ in range(6):
        responses.get(URL, status=503)
        responses.get(URL, status=503)
        responses.get(URL, json=status("running"))
    responses.get(URL, json=status("completed"))
    assert waiter(clock, backoff, [], max_outage=5).wait(77).status == "completed"


@responses.activate
def test_wait_when_result_never_finishes_times_out_with_last_result(
    clock: FakeClock, backoff: Backoff
) -> None:
    """Past `timeout` the wait ends; the last result is kept for the report."""
    responses.get(URL, json=status("running"))
    w = waiter(clock, backoff, [], timeout=35)
    with pytest.raises(WaitTimedOut, match="still running"):
        w.wait(77)
    assert clock.t == 35 and w.last_result is not None and w.last_result.status == "running"


@responses.activate
def test_wait_when_key_is_refused_stops_at_once(clock: FakeClock, backoff: Backoff) -> None:
    """A 401 is not transient: no retry."""
    responses.get(URL, status=401, json={"detail": "nope"})
    with pytest.raises(RequestRejected):
        waiter(clock, backoff, []).wait(77)
    assert clock.sleeps == []


def test_progress_line_when_runs_are_mixed_counts_them() -> None:
    """The progress line reads `[2m10s] running · 2/4 runs done · 1 passed · 1 failed`."""
    result = Result.model_validate(
        status(
            "running",
            {
                "1": {"status": "completed", "success": True},
                "2": {"status": "failed"},
                "3": {"status": "running"},
                "4": {},
            },
        )
    )
    assert progress_line(result, 130) == "[2m10s] running · 2/4 runs done · 1 passed · 1 failed"


def test_backoff_when_attempts_grow_is_bounded_and_jittered() -> None:
    """Delays grow, stay under the cap and vary."""
    import random

    backoff = Backoff(base=1, cap=60, rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(1, 12)]
    assert all(0 < d <= 60 for d in delays) and delays[-1] >= 30
    assert len({round(d, 3) for d in delays}) == len(delays)
    assert backoff.delay(1, retry_after=45) == 45


@responses.activate
def test_wait_when_counts_are_infinite_or_not_numbers_keeps_polling(
    clock: FakeClock, backoff: Backoff
) -> None:
    """Counts of "inf", 1e400 and NaN in a poll read as no count: the wait goes on, no crash."""
    odd = (
        '{"id": 77, "status": "running", "total_runs_count": 1e400, "success_runs_count": NaN,'
        ' "runs": {"1": {"status": "running", "success": NaN, "scenario": "inf",'
        ' "evaluation": {"metrics": [{"name": "M", "type": "binary", "score": -Infinity}]}},'
        ' "2": {"id": 1e400}}}'
    )
    responses.get(URL, body=odd, content_type="application/json")
    responses.get(URL, json={**status("running"), "total_runs_count": "inf"})
    responses.get(URL, json=status("completed"))
    lines: list[str] = []
    assert waiter(clock, backoff, lines).wait(77).status == "completed"
    assert lines[0].endswith("running · 0/1 runs done · 0 passed · 0 failed")


LIST = BASE + RESULTS_PATH


def big(name: str, run_status: str, runs: int = 200, **extra: object) -> dict:
    """A result of `runs` runs, each in `run_status`, as the detail gives it."""
    return {
        "id": 77,
        "name": "gate run",
        "agent": 42,
        "status": name,
        "runs": {str(i): {"status": run_status, **extra} for i in range(1, runs + 1)},
    }


def row_page(*rows: dict) -> dict:
    return {"count": len(rows), "next": None, "results": list(rows)}


@responses.activate
def test_wait_when_result_is_large_polls_its_list_row_and_fetches_the_detail_once_at_the_end(
    clock: FakeClock, backoff: Backoff
) -> None:
    """From 200 runs on, progress comes from the result's row in the results list (no
    transcripts); the detail is fetched at the start and once more when the row has ended."""
    detail_running = big("running", "running")
    responses.get(URL, json=detail_running)
    other = {**big("running", "running", runs=1), "id": 76}
    responses.get(LIST, json=row_page(other, big("running", "evaluating")))
    responses.get(LIST, json=row_page(big("completed", "completed", success=True)))
    done = big("completed", "completed", success=True, duration="01:00")
    responses.get(URL, json=done)
    result = waiter(clock, backoff, []).wait(77)
    assert result.status == "completed" and result.runs[0].duration == "01:00"
    urls = [call.request.url for call in responses.calls]
    assert [u.split("?")[0] for u in urls] == [URL, LIST, LIST, URL]
    assert "search=gate+run" in urls[1] and "agent_id=42" in urls[1]


@responses.activate
def test_wait_when_large_result_is_not_on_the_list_polls_the_detail(
    clock: FakeClock, backoff: Backoff
) -> None:
    """A row that the search does not find sends polling back to the detail for good."""
    responses.get(URL, json=big("running", "running"))
    responses.get(LIST, json=row_page())
    responses.get(URL, json=big("running", "running"))
    responses.get(URL, json=big("completed", "completed"))
    assert waiter(clock, backoff, []).wait(77).status == "completed"
    urls = [call.request.url.split("?")[0] for call in responses.calls]
    assert urls == [URL, LIST, URL, URL]


@responses.activate
def test_wait_when_result_is_small_polls_only_its_detail(
    clock: FakeClock, backoff: Backoff
) -> None:
    """Below 200 runs the detail is small enough: no list requests, no extra request at the end."""
    responses.get(URL, json=big("running", "running", runs=199))
    responses.get(URL, json=big("completed", "completed", runs=199))
    assert waiter(clock, backoff, []).wait(77).status == "completed"
    assert [call.request.url for call in responses.calls] == [URL, URL]
