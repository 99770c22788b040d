"""The HTTP client: the auth header, bodies as sent, HTTP failures as typed errors."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
import requests
import responses
from pydantic import SecretStr

from cekura_ci.client import (
    RESULTS_PATH,
    TRIGGER_PATH,
    CekuraClient,
    _retry_after,
    make_session,
)
from cekura_ci.errors import (
    AuthenticationFailed,
    BadAnswer,
    ExitCode,
    RequestNotSent,
    RequestRejected,
    ResultNotFound,
    TransientApiError,
)
from cekura_ci.transport import TooLarge as _TooLarge
from cekura_ci.transport import _Inflater

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
@pytest.mark.parametrize(
    "status", [408, 500, 501, 502, 503, 504, 505, 507, 520, 521, 522, 523, 524, 599]
)
def test_request_when_server_fails_is_transient_and_may_have_reached_it(
    client: CekuraClient, status: int
) -> None:
    """408 and every 5xx (not a list of favourites) are worth retrying, but may have been processed."""
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


@responses.activate
@pytest.mark.parametrize("value", ["²", "١٧", "17.5", "-3", "1e3", " ", "Fri, 99 Foo 2026"])
def test_request_when_retry_after_is_not_delta_seconds_or_a_date_ignores_it(
    client: CekuraClient, value: str
) -> None:
    """`²` is a digit to isdigit() that float() refuses: only ASCII digits are delta-seconds."""
    responses.get(BASE + RESULTS_PATH + "5/", status=429, headers={"Retry-After": value})
    with pytest.raises(TransientApiError) as info:
        client.get_result(5)
    assert info.value.retry_after is None


def test_retry_after_when_digits_or_an_http_date_reads_seconds() -> None:
    """Both forms of RFC 9110 still work; a date in the past means now."""
    assert _retry_after("17") == 17.0 and _retry_after(" 0 ") == 0.0
    assert (
        _retry_after("Fri, 01 Jan 2100 00:00:00 GMT") > 0
        and _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    )


@responses.activate
def test_get_result_when_answer_is_for_another_result_is_a_bad_answer(client: CekuraClient) -> None:
    """`GET /results/7/` answering `"id": 8` is never taken for result 7, nor retried."""
    responses.get(BASE + RESULTS_PATH + "7/", json={"id": 8, "status": "completed", "runs": {}})
    with pytest.raises(BadAnswer, match="answered with result 8 instead of 7") as info:
        client.get_result(7)
    assert not isinstance(info.value, TransientApiError) and info.value.exit_code == 3


@responses.activate
def test_request_when_status_is_not_http_is_a_bad_answer(client: CekuraClient) -> None:
    responses.get(BASE + RESULTS_PATH + "7/", status=600)
    with pytest.raises(BadAnswer, match="HTTP 600"):
        client.get_result(7)


@responses.activate
def test_trigger_when_body_cannot_be_encoded_sends_nothing_and_says_so(
    client: CekuraClient,
) -> None:
    """NaN is not JSON: the request never leaves, so it is a usage error, not "may have reached"."""
    with pytest.raises(RequestNotSent, match="could not be encoded as JSON") as info:
        client.trigger_run({"livekit_data": {"config": {"t": float("nan")}}})
    assert info.value.exit_code == ExitCode.USAGE_ERROR and len(responses.calls) == 0
    assert "livekit_data" in (info.value.hint or "")


@pytest.mark.parametrize(
    "url", ["https://a b", "https://api.cekura.test:99999", "https://[::1", "api.cekura.test"]
)
def test_request_when_url_is_unusable_sends_nothing_and_names_api_url(url: str) -> None:
    client = CekuraClient(url, make_session(SecretStr(KEY)), timeout=3)
    with pytest.raises(RequestNotSent, match="api_url") as info:
        client.trigger_run({})
    assert info.value.exit_code == ExitCode.USAGE_ERROR
    assert "api_url" in (info.value.hint or "") and KEY not in str(info.value)


@responses.activate
def test_request_when_cancelled_before_sending_sends_nothing(client: CekuraClient) -> None:
    from cekura_ci.errors import Cancelled

    client.cancel.cancel(15)
    with pytest.raises(Cancelled) as info:
        client.trigger_run({})
    assert not info.value.reached_server and info.value.exit_code == 143
    assert len(responses.calls) == 0


@responses.activate
def test_request_when_answered_returns_the_body_already_read(client: CekuraClient) -> None:
    """The promise to `_parse`: `content` is the bytes, read in full, the connection released."""
    responses.get(BASE + RESULTS_PATH + "7/", body=b'{"id": 7}', content_type="application/json")
    response = client._request("GET", RESULTS_PATH + "7/")
    assert response.content == b'{"id": 7}' and response.raw.closed


def inflate(encoding: str | None, body: bytes, limit: int = 10**7, step: int = 2**20) -> bytes:
    decode = _Inflater(encoding, limit)
    out = b"".join(decode(body[i : i + step]) for i in range(0, len(body), step))
    decode.finish()
    return out


MEMBER = bytes(2**20)  # decodes to exactly one read's worth: the boundary urllib3 2.8 repeats at


@pytest.mark.parametrize("step", [1, 1000, 2**20], ids=["byte", "small", "read-sized"])
def test_inflate_when_body_is_encoded_decodes_every_form_within_the_limit(step: int) -> None:
    """gzip with several members (ending on read boundaries), zlib and raw deflate, identity."""
    text = b'{"id": 7, "status": "completed"}' * 40
    raw = zlib.compressobj(wbits=-15)
    assert inflate("gzip", gzip.compress(MEMBER) * 3, step=step) == MEMBER * 3
    assert inflate("gzip", gzip.compress(text) + b"\0\0junk", step=step) == text
    assert inflate("deflate", zlib.compress(text), step=step) == text
    assert inflate("deflate", raw.compress(text) + raw.flush(), step=step) == text
    assert inflate(None, text, step=step) == text and inflate("gzip", b"") == b""


def test_inflate_when_output_passes_the_limit_stops_one_byte_past_it() -> None:
    """A bomb is decoded no further than the limit, whatever its size."""
    decode = _Inflater("gzip", 2**20)
    with pytest.raises(_TooLarge) as info:
        decode(gzip.compress(bytes(64 * 2**20)))
    assert info.value.size == 2**20 + 1


def test_inflate_when_stream_is_cut_short_says_so() -> None:
    with pytest.raises(zlib.error):
        inflate("gzip", gzip.compress(b"x" * 5000)[:-6])
