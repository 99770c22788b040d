"""The HTTP client: the auth header, bodies as sent, HTTP failures as typed errors."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from pydantic import SecretStr

from cekura_ci.client import RESULTS_PATH, TRIGGER_PATH, CekuraClient, make_session
from cekura_ci.errors import (
    AuthenticationFailed,
    RequestRejected,
    ResultNotFound,
    TransientApiError,
)

BASE = "https://api.cekura.test"
KEY = "ck_client_test_key_81f2"


@pytest.fixture
def client() -> CekuraClient:
    return CekuraClient(BASE, make_session(SecretStr(KEY)), timeout=3)


@responses.activate
def test_trigger_when_accepted_sends_key_header_and_body(client: CekuraClient) -> None:
    """The POST carries X-CEKURA-API-KEY, a User-Agent and the JSON body as given."""
    responses.post(
        BASE + TRIGGER_PATH,
        json={"id": 9, "status": "pending", "runs": [{"id": 1, "scenario": 101}]},
    )
    result = client.trigger_run({"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 1})
    sent = responses.calls[0].request
    assert result.id == 9
    assert sent.headers["X-CEKURA-API-KEY"] == KEY
    assert sent.headers["User-Agent"].startswith("cekura-ci/")
    assert json.loads(sent.body) == {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 1}


@responses.activate
def test_request_when_key_refused_raises_authentication_failed(client: CekuraClient) -> None:
    """401 is the key's fault: a usage error, not retried."""
    responses.get(BASE + RESULTS_PATH + "5/", status=401, json={"detail": "Invalid API key."})
    with pytest.raises(AuthenticationFailed, match="Invalid API key"):
        client.get_result(5)
    assert len(responses.calls) == 1


@responses.activate
def test_request_when_400_shows_the_api_field_messages(client: CekuraClient) -> None:
    """A DRF-style 400 is shown as `field: message`."""
    responses.post(
        BASE + TRIGGER_PATH,
        status=400,
        json={"scenarios": ['Invalid pk "999" - object does not exist.']},
    )
    with pytest.raises(RequestRejected, match='scenarios: Invalid pk "999"'):
        client.trigger_run({})


@responses.activate
def test_request_when_404_raises_not_found(client: CekuraClient) -> None:
    responses.get(BASE + RESULTS_PATH + "5/", status=404, json={"detail": "Not found."})
    with pytest.raises(ResultNotFound):
        client.get_result(5)


@responses.activate
@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_request_when_server_fails_is_transient_and_may_have_reached_it(
    client: CekuraClient, status: int
) -> None:
    """408 and 5xx are worth retrying, but the request may have been processed."""
    responses.get(BASE + RESULTS_PATH + "5/", status=status, body="<html>oops</html>")
    with pytest.raises(TransientApiError) as info:
        client.get_result(5)
    assert info.value.status == status and info.value.reached_server
    assert "<html>" not in str(info.value)


@responses.activate
def test_request_when_429_carries_retry_after_and_did_nothing(client: CekuraClient) -> None:
    """429 says "try again later" before doing anything; Retry-After is kept."""
    responses.post(BASE + TRIGGER_PATH, status=429, headers={"Retry-After": "17"})
    with pytest.raises(TransientApiError) as info:
        client.trigger_run({})
    assert info.value.retry_after == 17 and not info.value.reached_server


@responses.activate
def test_request_when_answer_is_html_is_transient(client: CekuraClient) -> None:
    """A maintenance page with 200 is not a result; say what came instead of crashing on .json()."""
    responses.get(
        BASE + RESULTS_PATH + "5/", body="<html>maintenance</html>", content_type="text/html"
    )
    with pytest.raises(TransientApiError, match="not the expected JSON \\(text/html"):
        client.get_result(5)


@responses.activate
def test_request_when_body_is_cut_off_is_transient(client: CekuraClient) -> None:
    responses.get(
        BASE + RESULTS_PATH + "5/",
        body='{"id": 5, "status": "runn',
        content_type="application/json",
    )
    with pytest.raises(TransientApiError):
        client.get_result(5)


@responses.activate
def test_request_when_redirected_is_not_followed(client: CekuraClient) -> None:
    """A redirect would carry the key header elsewhere: refused, not followed."""
    responses.get(
        BASE + RESULTS_PATH + "5/", status=302, headers={"Location": "https://evil.example/steal"}
    )
    with pytest.raises(RequestRejected, match="redirect"):
        client.get_result(5)
    assert len(responses.calls) == 1


@responses.activate
def test_request_when_connection_dropped_may_have_reached_server(client: CekuraClient) -> None:
    """A connection reset after sending is ambiguous."""
    responses.post(BASE + TRIGGER_PATH, body=requests.ConnectionError("Connection aborted."))
    with pytest.raises(TransientApiError) as info:
        client.trigger_run({})
    assert info.value.reached_server


def test_request_when_connection_refused_provably_never_reached_server() -> None:
    """Nothing listens on the port: the request never left, so the POST may be repeated."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = CekuraClient(f"http://127.0.0.1:{port}", make_session(SecretStr(KEY)), timeout=2)
    with pytest.raises(TransientApiError) as info:
        client.trigger_run({})
    assert not info.value.reached_server
    assert KEY not in str(info.value)


@responses.activate
def test_find_results_when_search_matches_parts_keeps_exact_names(client: CekuraClient) -> None:
    """Cekura's search matches substrings; only the exact name is ours."""
    responses.get(
        BASE + RESULTS_PATH,
        json={
            "count": 2,
            "next": None,
            "results": [{"id": 1, "name": "run A"}, {"id": 2, "name": "run A (copy)"}],
        },
    )
    assert [r.id for r in client.find_results("run A", 42)] == [1]
    assert responses.calls[0].request.params == {
        "search": "run A",
        "agent_id": "42",
        "page_size": "50",
        "page": "1",
    }


@responses.activate
def test_find_results_when_paged_follows_pages_by_number_not_by_link(client: CekuraClient) -> None:
    """`next` may point anywhere; pages are asked of api_url by number."""
    responses.get(
        BASE + RESULTS_PATH,
        match=[
            responses.matchers.query_param_matcher({"search": "n", "page_size": "50", "page": "1"})
        ],
        json={
            "count": 2,
            "next": "https://evil.example/?page=2",
            "results": [{"id": 1, "name": "x"}],
        },
    )
    responses.get(
        BASE + RESULTS_PATH,
        match=[
            responses.matchers.query_param_matcher({"search": "n", "page_size": "50", "page": "2"})
        ],
        json={"count": 2, "next": None, "results": [{"id": 2, "name": "n"}]},
    )
    assert [r.id for r in client.find_results("n", None)] == [2]


@responses.activate
def test_share_link_when_created_sends_expiry(client: CekuraClient) -> None:
    responses.post(
        BASE + RESULTS_PATH + "5/create_shareable_link_token/",
        json={"token": "t", "shareable_link": "https://x/t"},
    )
    link = client.create_share_link(5, "2026-12-01T00:00:00+00:00")
    assert link.shareable_link == "https://x/t"
    assert json.loads(responses.calls[0].request.body) == {"expire_at": "2026-12-01T00:00:00+00:00"}
