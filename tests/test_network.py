"""A network that misbehaves on purpose: every request ends in bounded time and size, a cancel
takes effect at once in every phase, and no failure is mistaken for another kind, or for success.

The server is real (loopback, tests/hostile.py); time is real where it is the point (dripping
answers, signals) and fake elsewhere.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from pydantic import SecretStr

from cekura_ci import cli
from cekura_ci.client import RESULTS_PATH, TRIGGER_PATH, CekuraClient, make_session
from cekura_ci.errors import BadAnswer, Cancelled, ExitCode, RequestNotSent, TransientApiError
from cekura_ci.timing import CancelToken
from tests.factories import run
from tests.helpers import API_KEY, read_outputs
from tests.hostile import (
    Hostile,
    drip,
    gzip_bomb,
    hold,
    json_answer,
    self_signed_certificate,
    status,
)
from tests.test_entrypoint import ROOT, action_env, entrypoint

NAME = "network test 5e1f"
RESULT = RESULTS_PATH + "7/"


def result(id: int = 7, state: str = "completed", **extra: object) -> dict:
    return {"id": id, "name": NAME, "status": state, "runs": {"1": run(1)}, **extra}


def page(*results: dict) -> dict:
    return {"count": len(results), "next": None, "results": list(results)}


@pytest.fixture
def server() -> Iterator[Hostile]:
    with Hostile() as hostile:
        yield hostile


@pytest.fixture(autouse=True)
def restore_signals() -> Iterator[None]:
    """The action takes over SIGINT/SIGTERM; give them back to pytest afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def client_for(server: Hostile, timeout: float = 2, **kwargs: object) -> CekuraClient:
    return CekuraClient(server.url, make_session(SecretStr(API_KEY)), timeout=timeout, **kwargs)


def written(workspace: Path, *texts: str) -> str:
    files = [p.read_text(errors="replace") for p in workspace.rglob("*") if p.is_file()]
    return "\n".join([*texts, *files])


def assert_key_not_written(workspace: Path, *texts: str) -> None:
    leaks = [
        line
        for line in written(workspace, *texts).splitlines()
        if API_KEY in line and line != f"::add-mask::{API_KEY}"
    ]
    assert leaks == []


def action(
    workspace: Path, capsys: pytest.CaptureFixture[str], **inputs: str
) -> tuple[int, str, dict[str, str], str, float]:
    """The Docker action in this process, debug logging on: (exit code, stdout, outputs, summary,
    seconds taken); the key appears nowhere but in the runner's mask command."""
    env = action_env(
        workspace,
        **{"api_key": API_KEY, "agent_id": "42", "scenario_ids": "101", "name": NAME, **inputs},
    )
    env["RUNNER_DEBUG"] = "1"  # the most talkative logging still never shows the key
    started = time.monotonic()
    code = cli.action_main(env)
    taken = time.monotonic() - started
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert_key_not_written(workspace, out)
    outputs = read_outputs(workspace / "github_output")
    return code, out, outputs, summary_text(workspace), taken


def summary_text(workspace: Path) -> str:
    """The job summary with Markdown's backslash escapes taken out, to look for words in it."""
    return (workspace / "step_summary.md").read_text().replace("\\", "")


# --- 11: each request is bounded as a whole -------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "status-line-and-headers"])
def test_request_when_answer_drips_ends_at_the_bound(server: Hostile, headers_too: bool) -> None:
    """One byte every 0.1 s never trips a read timeout; the request still ends at its bound."""
    server.on("GET", RESULT, drip(result(), every=0.1, headers_too=headers_too))
    started = time.monotonic()
    with pytest.raises(TransientApiError, match=r"no complete answer within 0\.4s"):
        client_for(server, timeout=0.4).get_result(7)
    assert 0.4 <= time.monotonic() - started < 1.2


def test_end_calls_when_the_answer_drips_ends_at_its_own_bound(server: Hostile) -> None:
    server.on("POST", RESULTS_PATH + "7/end_calls/", drip({"detail": "ok"}, every=0.1))
    started = time.monotonic()
    with pytest.raises(TransientApiError):
        client_for(server, timeout=30).end_calls(7, timeout=0.4)
    assert time.monotonic() - started < 1.2


def test_action_when_polls_drip_stops_at_timeout_with_a_summary(
    server: Hostile, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dripping answer that once ran far past `timeout` and died without a summary."""
    server.on("GET", RESULT, drip(result(state="running"), every=0.2))
    server.on("POST", RESULTS_PATH + "7/end_calls/", json_answer({}))
    code, out, outputs, summary, taken = action(
        workspace, capsys, api_url=server.url, result_id="7", request_timeout="1", timeout="1"
    )
    assert code == ExitCode.INFRASTRUCTURE and outputs["outcome"] == "timeout", out
    assert taken < 3.5
    assert "no complete answer within 1s" in out, out
    assert "did not finish within the 1s timeout" in summary
    assert server.seen("POST", "end_calls")  # and the calls were ended


# --- 13: the decoded body is bounded ---------------------------------------------------------


def test_request_when_answer_is_a_gzip_bomb_stops_at_the_size_limit(server: Hostile) -> None:
    """64 KB of gzip that inflates to 64 MiB is refused once 1 MiB is decoded, not inflated whole."""
    server.on("GET", RESULT, gzip_bomb(64))
    with pytest.raises(BadAnswer, match="larger than the 1 MiB") as info:
        client_for(server, max_body=2**20).get_result(7)
    assert not isinstance(info.value, TransientApiError)  # asking again gets the same bomb


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_request_when_plain_body_is_too_large_stops_at_the_limit(
    server: Hostile, declared: bool
) -> None:
    body = json.dumps(result(padding="x" * 3_000_000)).encode()

    def answer(handler) -> None:
        if declared:
            handler.head(200, {"Content-Length": str(len(body))})
            handler.wfile.write(body)
        else:
            handler.head(200, {"Transfer-Encoding": "chunked"})
            for start in range(0, len(body), 65536):
                part = body[start : start + 65536]
                handler.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
            handler.wfile.write(b"0\r\n\r\n")

    server.on("GET", RESULT, answer)
    with pytest.raises(BadAnswer, match="larger than the 1 MiB"):
        client_for(server, max_body=2**20).get_result(7)
    assert client_for(server, max_body=4 * 2**20).get_result(7).id == 7  # under it: read whole


#: Runs entrypoint.py as the runner does, then reports the process's own peak memory on stderr.
MEASURED = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print(f"peak-rss-kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def test_action_when_a_poll_answers_a_gzip_bomb_fails_clearly_within_memory(
    server: Hostile, workspace: Path
) -> None:
    """300 KB of gzip inflating to 300 MiB: exit 3 naming the limit; the step once took 703 MB."""
    server.on("GET", RESULT, gzip_bomb(300))
    env = action_env(workspace, api_key=API_KEY, agent_id="42", api_url=server.url, result_id="7")
    process = subprocess.run(
        [sys.executable, "-c", MEASURED, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == ExitCode.INFRASTRUCTURE, process.stdout + process.stderr
    assert "Traceback" not in process.stderr
    summary = summary_text(workspace)
    assert "larger than the 256 MiB" in process.stdout and "answer could not be used" in summary
    peak = int(process.stderr.rsplit("peak-rss-kib=", 1)[1]) * 1024
    assert peak < 256 * 2**20 + 200 * 2**20  # the limit, plus the interpreter and its imports
    assert_key_not_written(workspace, process.stdout, process.stderr)


# --- 8 and 10: the kind of failure decides what is said ---------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("answer", "code", "words"),
    [
        ({"status": 520}, 3, "Waiting stopped because Cekura's API kept failing."),
        ({"status": 501}, 3, "Waiting stopped because Cekura's API kept failing."),
        ({"status": 403, "json": {"detail": "no"}}, 2, "because Cekura refused a request"),
        ({"json": result(id=8)}, 3, "Waiting stopped because Cekura's answer could not be used."),
    ],
    ids=["520", "501", "403", "another-result"],
)
def test_gate_when_polling_stops_says_why_by_the_kind_of_failure(
    make_settings, make_gate, workspace: Path, answer: dict, code: int, words: str
) -> None:
    """501 and 520 are outages, not refusals; an answer about result 8 is a bad answer."""
    responses.get("https://api.cekura.test" + RESULT, **answer)
    gate, _ = make_gate(make_settings(result_id=7, max_outage=60))
    assert gate.run() == code
    summary = summary_text(workspace)
    assert words in summary
    assert "refused" not in summary or code == 2


def test_action_when_a_poll_answers_for_another_result_never_judges_it(
    server: Hostile, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`GET /results/7/` answering a passing result 8: not judged, result_id stays 7, exit 3."""
    server.on("POST", TRIGGER_PATH, json_answer(result(state="pending", runs={})))
    server.on("GET", RESULT, json_answer(result(id=8)))
    code, out, outputs, summary, _ = action(workspace, capsys, api_url=server.url)
    assert code == ExitCode.INFRASTRUCTURE, out
    assert outputs["result_id"] == "7" and outputs["passed"] == "false"
    assert outputs["outcome"] == "error" and outputs["total_runs"] == "0"
    assert "answered with result 8 instead of 7" in out and "could not be used" in summary
    assert len(server.seen("GET", RESULT)) == 1  # not asked again: the answer would be the same


@responses.activate
def test_gate_when_retry_after_is_a_superscript_digit_keeps_polling(
    make_settings, make_gate, clock, workspace: Path
) -> None:
    """`Retry-After: ²` once crashed the poll and lost the verdict; now it is just unreadable."""
    responses.get("https://api.cekura.test" + RESULT, status=429, headers={"Retry-After": "²"})
    responses.get("https://api.cekura.test" + RESULT, json=result())
    gate, _ = make_gate(make_settings(result_id=7))
    assert gate.run() == ExitCode.PASSED
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 1  # the usual back-off


# --- 14: requests that never left are not "may have reached Cekura" -------------------------


@responses.activate  # nothing registered: a request that went out would fail loudly
@pytest.mark.parametrize("url", ["https://a b", "https://api.cekura.test:99999"])
def test_action_when_api_url_is_unusable_exits_2_at_once(
    workspace: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, out, outputs, summary, taken = action(workspace, capsys, api_url=url, max_outage="1")
    assert code == ExitCode.USAGE_ERROR and outputs["outcome"] == "error", out
    assert taken < 1 and len(responses.calls) == 0
    assert "api_url" in summary and "Look for a result named" not in out


def test_action_when_tls_certificate_fails_verification_exits_3_at_once(
    workspace: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory
) -> None:
    """A self-signed certificate: nothing was sent, so no lookup, no retry; say what to check."""
    tls = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if tls is None:
        pytest.skip("the openssl command line is needed to make a certificate")
    with Hostile(tls=tls) as server:
        server.on("POST", TRIGGER_PATH, json_answer(result(state="pending")))
        code, out, outputs, summary, taken = action(workspace, capsys, api_url=server.url)
        assert server.seen() == []
    assert code == ExitCode.INFRASTRUCTURE and outputs["outcome"] == "error", out
    assert taken < 2
    assert "TLS certificate" in summary and "REQUESTS_CA_BUNDLE" in summary
    assert "Look for a result named" not in out and "retrying" not in out


@responses.activate
def test_trigger_when_body_cannot_be_encoded_is_a_known_failure_not_a_search(
    make_settings, make_gate
) -> None:
    """NaN in livekit_data (should validation let it through) fails at once, with no lookup."""
    settings = make_settings()
    settings = settings.model_copy(update={"livekit_data": {"config": {"t": float("nan")}}})
    gate, _ = make_gate(settings)
    with pytest.raises(RequestNotSent):
        gate.trigger()
    assert len(responses.calls) == 0


# --- 12: a cancel takes effect at once, in every phase ---------------------------------------


@responses.activate
def test_gate_when_cancelled_before_the_trigger_starts_nothing(
    make_settings, make_gate, clock
) -> None:
    clock.cancel.cancel(signal.SIGINT)
    gate, _ = make_gate(make_settings())
    with pytest.raises(Cancelled, match="No run was started") as info:
        gate.run()
    assert info.value.exit_code == ExitCode.INTERRUPTED and len(responses.calls) == 0


@pytest.mark.parametrize("answer", [hold, lambda: drip(result(), every=0.2)])
def test_request_when_cancelled_in_flight_stops_within_a_fraction_of_a_second(
    server: Hostile, answer
) -> None:
    """A poll that hangs or drips is abandoned, its socket closed, as soon as the token is set."""
    server.on("GET", RESULT, answer())
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel, args=(signal.SIGTERM,)).start()
    started = time.monotonic()
    with pytest.raises(Cancelled) as info:
        client_for(server, timeout=30, cancel=cancel).get_result(7)
    assert time.monotonic() - started < 0.8
    assert info.value.reached_server and info.value.exit_code == ExitCode.TERMINATED


def test_gate_when_cancelled_while_still_connecting_starts_nothing_and_looks_for_nothing(
    server: Hostile, make_settings, make_gate, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel while the connection is still being made (a slow DNS answer, say): no byte of the
    POST left, so there is no run to look for, and the connection never sends one afterwards."""
    import urllib3.connection

    connecting = threading.Event()
    slow = urllib3.connection.HTTPConnection._new_conn

    def slow_connect(self):
        connecting.set()
        time.sleep(0.5)
        return slow(self)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", slow_connect)
    server.on("POST", TRIGGER_PATH, json_answer(result(state="pending")))
    gate, _ = make_gate(make_settings(api_url=server.url))
    threading.Thread(
        target=lambda: connecting.wait(5) and clock.cancel.cancel(signal.SIGINT)
    ).start()
    with pytest.raises(Cancelled, match="No run was started"):
        gate.run()
    time.sleep(0.7)  # past the slow connect: the worker must not send the POST after all
    assert server.seen() == []


def test_gate_when_cancelled_during_the_lookup_after_an_ambiguous_trigger_names_and_ends_the_run(
    server: Hostile, make_settings, make_gate, clock, workspace: Path
) -> None:
    """The POST failed ambiguously, the lookup hangs, the job is cancelled: one quick look finds the
    run, its calls are ended, and the error names it (it was once orphaned without a word)."""
    looking = threading.Event()
    server.on("POST", TRIGGER_PATH, status(502))
    server.on("GET", RESULTS_PATH, hold(looking), json_answer(page(result(31, "running"))))
    server.on("POST", RESULTS_PATH + "31/end_calls/", json_answer({}))
    gate, _ = make_gate(make_settings(api_url=server.url, name=NAME))
    threading.Thread(target=lambda: looking.wait(5) and clock.cancel.cancel(signal.SIGINT)).start()
    started = time.monotonic()
    with pytest.raises(Cancelled) as info:
        gate.run()
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "result 31" in message and NAME in message and "asked to end" in message
    assert (
        len(server.seen("POST", "end_calls")) == 1 and len(server.seen("POST", TRIGGER_PATH)) == 1
    )
    assert read_outputs(workspace / "github_output")["result_id"] == "31"


def wait_exit(process, limit: float) -> tuple[str, str, float]:
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=limit + 10)
    return stdout, stderr, time.monotonic() - started


@pytest.mark.parametrize(
    ("signum", "code", "found"),
    [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, True)],
    ids=["SIGINT-not-found", "SIGTERM-found"],
)
def test_action_when_cancelled_while_the_trigger_is_in_flight_exits_at_once_and_names_the_run(
    server: Hostile, workspace: Path, signum: int, code: int, found: bool
) -> None:
    """The runner's signal while Cekura holds the POST: out within 2 s (it once took 31 s), with
    the run's name to look for, and its calls ended if the quick look finds it."""
    server.on("POST", TRIGGER_PATH, hold())
    server.on("GET", RESULTS_PATH, json_answer(page(result(31, "running")) if found else page()))
    server.on("POST", RESULTS_PATH + "31/end_calls/", json_answer({}))
    process = entrypoint(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        name=NAME,
        api_url=server.url,
    )
    server.wait_for("POST", TRIGGER_PATH)
    process.send_signal(signum)
    stdout, stderr, taken = wait_exit(process, 5)
    assert process.returncode == code, stdout + stderr
    assert taken < 2 and "Traceback" not in stderr
    outputs = read_outputs(workspace / "github_output")
    summary = summary_text(workspace)
    assert outputs["outcome"] == "cancelled" and NAME in summary
    assert len(server.seen("POST", TRIGGER_PATH)) == 1 and server.seen("GET", RESULTS_PATH)
    if found:
        assert outputs["result_id"] == "31" and "asked to end" in summary
        assert server.seen("POST", "31/end_calls")
    else:
        assert "may have reached Cekura" in summary and "result_id" not in outputs
    assert_key_not_written(workspace, stdout, stderr)


def test_action_when_cancelled_while_looking_up_the_baseline_exits_at_once_with_the_signal(
    server: Hostile, workspace: Path
) -> None:
    """The runner's SIGINT while the results list hangs: out within 2 s with 130 and outcome
    cancelled (it once exited 0, "passed", a cancelled job judged on the thresholds)."""
    server.on("GET", RESULT, json_answer(result()))
    server.on("GET", RESULTS_PATH, hold())
    process = entrypoint(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        api_url=server.url,
        result_id="7",
        baseline="auto",
        baseline_branch="main",
    )
    server.wait_for("GET", RESULTS_PATH + "?")
    process.send_signal(signal.SIGINT)
    stdout, stderr, taken = wait_exit(process, 5)
    assert process.returncode == 130, stdout + stderr
    assert taken < 2 and "Traceback" not in stderr
    outputs = read_outputs(workspace / "github_output")
    assert (outputs["outcome"], outputs["passed"], outputs["passed_runs"]) == (
        "cancelled",
        "false",
        "1",
    )
    assert "Cekura gate cancelled: 1 of 1 runs had finished" in summary_text(workspace)
    assert_key_not_written(workspace, stdout, stderr)


@pytest.mark.parametrize("agent_id", ["42", "abc"], ids=["verdict", "refused-input"])
def test_action_when_cancelled_while_the_comment_is_posted_exits_at_once_with_the_signal(
    server: Hostile, workspace: Path, agent_id: str
) -> None:
    """The runner's SIGINT while GitHub's API holds the comment (of a verdict, or of an input
    refused before anything ran): out within 2 s with 130 (it once waited out a 10 s read
    timeout, past the runner's SIGTERM, and exited 0 or 2); what was written stands."""
    server.on("GET", RESULT, json_answer(result()))
    event = workspace / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    with Hostile() as github:
        github.on("GET", "/user", hold())
        env = action_env(
            workspace,
            {"GITHUB_API_URL": github.url, "GITHUB_EVENT_PATH": str(event)},
            api_key=API_KEY,
            agent_id=agent_id,
            api_url=server.url,
            result_id="7",
            comment="update",
        )
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "entrypoint.py")],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        github.wait_for("GET", "/user")
        process.send_signal(signal.SIGINT)
        stdout, stderr, taken = wait_exit(process, 5)
    assert process.returncode == 130, stdout + stderr
    assert taken < 2 and "Traceback" not in stderr
    assert "Could not find the token's user: the job was cancelled." in stdout
    outputs = read_outputs(workspace / "github_output")
    expected = "passed" if agent_id == "42" else "error"
    assert outputs["outcome"] == expected and outputs.get("comment_url", "") == ""
    assert_key_not_written(workspace, stdout, stderr)


def test_action_when_sigterm_follows_sigint_during_end_calls_stops_ending_them(
    server: Hostile, workspace: Path
) -> None:
    """end_calls that hangs after SIGINT is cut short by the runner's SIGTERM, not outlived."""
    server.on("GET", RESULT, json_answer(result(state="running")))
    server.on("POST", RESULTS_PATH + "7/end_calls/", hold())
    process = entrypoint(
        workspace, api_key=API_KEY, agent_id="42", api_url=server.url, result_id="7"
    )
    server.wait_for("GET", RESULT)
    process.send_signal(signal.SIGINT)
    server.wait_for("POST", "end_calls")
    process.send_signal(signal.SIGTERM)
    stdout, stderr, taken = wait_exit(process, 5)
    assert process.returncode == 130, stdout + stderr  # the first signal decides
    assert taken < 1.5 and "Traceback" not in stderr
    assert "Could not end the calls of result 7" in stdout
    assert read_outputs(workspace / "github_output")["outcome"] == "cancelled"
    assert "🚫 Cekura gate cancelled" in (workspace / "step_summary.md").read_text()
    assert_key_not_written(workspace, stdout, stderr)


def test_gate_when_cancelled_with_share_link_on_spends_nothing_on_the_link_and_keeps_the_report(
    server: Hostile, make_settings, make_gate, clock, workspace: Path
) -> None:
    """Cancelled mid-wait with share_link on: no traceback, no error summary in place of the
    verdict; the link is simply not made."""
    server.on("GET", RESULT, json_answer(result(state="running")))
    server.on("POST", RESULTS_PATH + "7/end_calls/", json_answer({}))
    gate, stream = make_gate(make_settings(api_url=server.url, result_id=7, share_link="true"))
    clock.at(15, lambda: clock.cancel.cancel(signal.SIGINT))
    assert gate.run() == ExitCode.INTERRUPTED
    assert server.seen("POST", "create_shareable_link_token") == []
    assert "🚫 Cekura gate cancelled" in (workspace / "step_summary.md").read_text()
    assert isinstance(stream, io.StringIO)
