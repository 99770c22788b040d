"""The trigger is sent once: never two runs for one step, whatever fails and when."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
import requests
import responses

from cekura_ci.client import RESULTS_PATH, TRIGGER_PATH, CekuraClient, make_session
from cekura_ci.errors import AmbiguousTrigger, Cancelled, GaveUp, RequestRejected
from cekura_ci.settings import Settings
from cekura_ci.timing import Backoff
from cekura_ci.trigger import run_request, start_run
from tests.helpers import FakeClock

BASE = "https://api.cekura.test"
NAME = "cekura-ci test run"


def start(settings: Settings, clock: FakeClock, backoff: Backoff, **kwargs):
    client = CekuraClient(settings.api_url, make_session(settings.api_key))
    return start_run(client, settings, clock, backoff, **kwargs)


def page(*results: dict) -> dict:
    """One page of GET /results/ holding `results`."""
    return {"count": len(results), "next": None, "results": list(results)}


def at_3am() -> dt.datetime:
    return dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.timezone.utc)


def posts() -> int:
    return sum(1 for call in responses.calls if call.request.method == "POST")


def searched() -> list[dict[str, str]]:
    return [call.request.params for call in responses.calls if call.request.method == "GET"]


def test_run_request_when_options_given_sends_them_and_only_them(
    make_settings: Callable[..., Settings],
) -> None:
    """Optional fields are sent only when given, with the API's names."""
    plain = run_request(make_settings(scenario_ids="101,102", frequency=3))
    assert plain == {
        "agent": 42,
        "scenarios": [{"scenario": 101}, {"scenario": 102}],
        "frequency": 3,
        "name": NAME,
    }
    full = run_request(
        make_settings(
            personality_ids="3",
            test_profile_ids="20",
            mock_tool_names="[]",
            concurrency_limit=2,
            livekit_data='{"agent_name": "kit"}',
        )
    )
    assert (
        full["personality_ids"] == [3]
        and full["test_profile_ids"] == [20]
        and full["mock_tool_names"] == []
    )
    assert full["concurrency_limit"] == 2 and full["livekit_data"] == {"agent_name": "kit"}


@responses.activate
def test_trigger_when_429_retries_after_waiting(
    make_settings, clock: FakeClock, backoff: Backoff
) -> None:
    """429 means Cekura did nothing: the POST is repeated, after Retry-After."""
    responses.post(BASE + TRIGGER_PATH, status=429, headers={"Retry-After": "20"})
    responses.post(BASE + TRIGGER_PATH, json={"id": 5, "runs": []})
    assert start(make_settings(api_url=BASE), clock, backoff).id == 5
    assert posts() == 2 and clock.sleeps == [20.0] and searched() == []


@responses.activate
@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("Connection aborted: RemoteDisconnected")},
        {"body": requests.ReadTimeout("read timed out")},
        {"status": 501},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"status": 520},
        {"body": "<html>gateway</html>", "content_type": "text/html"},
        {"status": 600},
    ],
    ids=["reset", "read-timeout", "501", "502", "503", "504", "520", "html-200", "status-600"],
)
def test_trigger_when_failure_is_ambiguous_and_run_exists_adopts_it(
    make_settings, clock, backoff, failure
) -> None:
    """After an ambiguous failure the run is looked up by name and adopted, not sent again."""
    responses.post(BASE + TRIGGER_PATH, **failure)
    responses.get(
        BASE + RESULTS_PATH,
        json=page({"id": 31, "name": NAME, "status": "running"}),
    )
    assert start(make_settings(api_url=BASE), clock, backoff).id == 31
    assert posts() == 1
    assert searched()[0]["search"] == NAME and searched()[0]["agent_id"] == "42"


@responses.activate
def test_trigger_when_ambiguous_and_provably_absent_sends_again(
    make_settings, clock, backoff
) -> None:
    """Two searches a while apart find nothing: the first POST did not create a run."""
    responses.post(BASE + TRIGGER_PATH, status=503)
    responses.get(BASE + RESULTS_PATH, json=page())
    responses.post(BASE + TRIGGER_PATH, json={"id": 8, "runs": []})
    assert start(make_settings(api_url=BASE), clock, backoff).id == 8
    assert posts() == 2 and len(searched()) == 2


@responses.activate
def test_trigger_when_run_appears_on_second_look_adopts_it(make_settings, clock, backoff) -> None:
    """A run that was still being created at the first look is found at the second."""
    responses.post(BASE + TRIGGER_PATH, body=requests.ReadTimeout("slow"))
    responses.get(BASE + RESULTS_PATH, json=page())
    responses.get(BASE + RESULTS_PATH, json=page({"id": 4, "name": NAME}))
    assert start(make_settings(api_url=BASE), clock, backoff).id == 4
    assert posts() == 1


@responses.activate
def test_trigger_when_search_cannot_decide_stops_and_names_the_result(
    make_settings, clock, backoff
) -> None:
    """If the lookup keeps failing, stop (exit 3) and tell which name to look for."""
    responses.post(BASE + TRIGGER_PATH, status=502)
    responses.get(BASE + RESULTS_PATH, status=503)
    with pytest.raises(AmbiguousTrigger) as info:
        start(make_settings(api_url=BASE, max_outage=60), clock, backoff)
    assert NAME in str(info.value) and info.value.exit_code == 3
    assert posts() == 1


@responses.activate
def test_trigger_when_every_attempt_fails_ambiguously_gives_up_bounded(
    make_settings, clock, backoff
) -> None:
    """Repeated ambiguous failures send at most three POSTs."""
    responses.post(BASE + TRIGGER_PATH, status=503)
    responses.get(BASE + RESULTS_PATH, json=page())
    with pytest.raises(GaveUp):
        start(make_settings(api_url=BASE), clock, backoff)
    assert posts() == 3


@responses.activate
def test_trigger_when_several_results_share_the_name_adopts_the_first(
    make_settings, clock, backoff
) -> None:
    responses.post(BASE + TRIGGER_PATH, status=504)
    responses.get(
        BASE + RESULTS_PATH,
        json=page({"id": 12, "name": NAME}, {"id": 11, "name": NAME}),
    )
    assert start(make_settings(api_url=BASE), clock, backoff).id == 11


@responses.activate
def test_trigger_when_refused_with_400_is_not_retried(make_settings, clock, backoff) -> None:
    """A 400 is the request's fault: no retry, no search."""
    responses.post(
        BASE + TRIGGER_PATH,
        status=400,
        json={"scenarios": ['Invalid pk "999" - object does not exist.']},
    )
    with pytest.raises(RequestRejected, match="999"):
        start(make_settings(api_url=BASE), clock, backoff)
    assert len(responses.calls) == 1


@responses.activate
def test_trigger_body_when_sent_is_the_run_request(make_settings, clock, backoff) -> None:
    responses.post(BASE + TRIGGER_PATH, json={"id": 1, "runs": []})
    settings = make_settings(api_url=BASE, frequency=2)
    start(settings, clock, backoff)
    assert json.loads(responses.calls[0].request.body) == {
        "agent": 42,
        "scenarios": [{"scenario": 101}],
        "frequency": 2,
        "name": NAME,
    }


@responses.activate
def test_trigger_when_connection_refused_retries_without_searching(
    make_settings, clock, backoff
) -> None:
    """A refused connection provably sent nothing: the POST is repeated at once, no lookup."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = requests.ConnectionError(
        MaxRetryError(None, TRIGGER_PATH, NewConnectionError(None, "Connection refused"))
    )
    responses.post(BASE + TRIGGER_PATH, body=refused)
    responses.post(BASE + TRIGGER_PATH, json={"id": 3, "runs": []})
    assert start(make_settings(api_url=BASE), clock, backoff).id == 3
    assert posts() == 2 and searched() == []


@responses.activate
def test_trigger_when_an_older_result_has_the_same_name_does_not_adopt_it(
    make_settings, clock, backoff
) -> None:
    """A hand-given name may repeat: yesterday's result of that name is not ours."""
    responses.post(BASE + TRIGGER_PATH, status=503)
    responses.get(
        BASE + RESULTS_PATH,
        json=page({"id": 2, "name": NAME, "created_at": "2026-11-27T03:00:00Z"}),
    )
    responses.post(BASE + TRIGGER_PATH, json={"id": 9, "runs": []})
    assert start(make_settings(api_url=BASE), clock, backoff, wall_clock=at_3am).id == 9
    assert posts() == 2


@responses.activate
def test_trigger_when_the_same_name_was_created_just_now_adopts_it(
    make_settings, clock, backoff
) -> None:
    responses.post(BASE + TRIGGER_PATH, status=503)
    responses.get(
        BASE + RESULTS_PATH,
        json=page({"id": 2, "name": NAME, "created_at": "2026-11-28T03:00:04.120Z"}),
    )
    assert start(make_settings(api_url=BASE), clock, backoff, wall_clock=at_3am).id == 2
    assert posts() == 1


@responses.activate
def test_trigger_when_the_lookup_is_refused_stops_and_names_the_result(
    make_settings, clock, backoff
) -> None:
    """Any failure of the lookup after an ambiguous POST leaves the run undecided: name it."""
    responses.post(BASE + TRIGGER_PATH, status=502)
    responses.get(BASE + RESULTS_PATH, status=403, json={"detail": "no"})
    with pytest.raises(AmbiguousTrigger, match=f"Look for a result named {NAME!r}"):
        start(make_settings(api_url=BASE), clock, backoff)
    assert posts() == 1


@responses.activate
def test_trigger_when_cancelled_while_waiting_out_a_429_says_no_run_was_started(
    make_settings, clock, backoff
) -> None:
    """429 means nothing was done: a cancel in the wait after it has no run to name or end."""
    responses.post(BASE + TRIGGER_PATH, status=429, headers={"Retry-After": "20"})
    clock.at(10, lambda: clock.cancel.cancel(2))
    with pytest.raises(Cancelled, match="No run was started") as info:
        start(make_settings(api_url=BASE), clock, backoff)
    assert info.value.exit_code == 130 and posts() == 1 and searched() == []
