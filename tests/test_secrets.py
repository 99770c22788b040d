"""The API key never reaches a log line, a summary, an output, a report or an error message,
on any path, with RUNNER_DEBUG=1. Only the runner's own `::add-mask::` line carries it."""

from __future__ import annotations

import html
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cekura_ci import cli
from tests.helpers import FakeClock, scenario
from tests.test_entrypoint import ROOT, action_env, wait_for_result_id

KEY = "ck_live_DISTINCTIVE_7c1f0e9a2b"


def everything_written(workspace: Path, stdout: str, stderr: str) -> str:
    files = [p.read_text(errors="replace") for p in workspace.rglob("*") if p.is_file()]
    return "\n".join([stdout, stderr, *files])


def assert_no_leak(written: str, stdout: str) -> None:
    """Not in any line, nor hidden by Markdown (`ck\\_live`) or HTML (`&#95;`) escaping."""
    for form in (written, written.replace("\\", ""), html.unescape(written)):
        leaks = [line for line in form.splitlines() if KEY in line and line != f"::add-mask::{KEY}"]
        assert leaks == [], leaks
    assert stdout.splitlines()[0] == f"::add-mask::{KEY}"  # masked before anything else is printed


def inputs(**extra: str) -> dict[str, str]:
    return {"api_key": KEY, "agent_id": "42", "scenario_ids": "101", "poll_interval": "1", **extra}


@pytest.fixture
def run(workspace: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]):
    """The action in-process with RUNNER_DEBUG=1, on the fake clock; returns (code, all written)."""

    def start(**extra: str) -> tuple[int, str]:
        env = action_env(workspace, **inputs(**extra))
        env["RUNNER_DEBUG"] = "1"
        code = cli.action_main(env, clock=clock)
        captured = capsys.readouterr()
        written = everything_written(workspace, captured.out, captured.err)
        assert_no_leak(written, captured.out)
        return code, written

    return start


def run_cancelled(workspace: Path, **extra: str) -> tuple[int, str]:
    """entrypoint.py as a real process, sent SIGTERM once the run is started."""
    env = action_env(workspace, **inputs(**extra))
    env["RUNNER_DEBUG"] = "1"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_result_id(workspace)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    written = everything_written(workspace, stdout, stderr)
    assert_no_leak(written, stdout)
    return process.returncode, written


@pytest.fixture
def world(make_world):
    def make(api_key: str = KEY, **extra):
        return make_world([scenario(101, duration=60)], api_key=api_key, **extra)

    return make


@pytest.fixture
def serve(serve, clock: FakeClock):
    """Stand-ins on the fake clock (the cancellation test's real process gets a real-time one)."""

    def start(world, real_time: bool = False):
        if real_time:
            return serve(world.model_copy(update={"speed": 200}))
        return serve(world, clock=clock.now)

    return start


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_key_when_refused_with_401_is_not_written(world, serve, run) -> None:
    server = serve(world(api_key="ck_test_the_other_key_1"))
    assert run(api_url=server.url)[0] == 2


def test_key_when_request_rejected_with_400_is_not_written(world, serve, run) -> None:
    server = serve(world())
    assert run(api_url=server.url, scenario_ids="999")[0] == 2


def test_key_when_api_keeps_failing_is_not_written(world, serve, run) -> None:
    server = serve(world(faults=[{"endpoint": "result", "kind": "status", "status": 500}]))
    assert run(api_url=server.url, max_outage="2")[0] == 3


def test_key_when_connection_refused_is_not_written(run) -> None:
    code, written = run(api_url=f"http://127.0.0.1:{closed_port()}", max_outage="2")
    assert code == 3 and "connection refused" in written


def test_key_when_answers_are_html_until_timeout_is_not_written(world, serve, run) -> None:
    server = serve(world(faults=[{"endpoint": "result", "kind": "html"}]))
    assert run(api_url=server.url, timeout="2")[0] == 3


def test_key_when_trigger_is_ambiguous_and_undecidable_is_not_written(world, serve, run) -> None:
    faults = [
        {"endpoint": "trigger", "kind": "drop_after"},
        {"endpoint": "results", "kind": "status", "status": 503},
    ]
    server = serve(world(faults=faults))
    code, written = run(api_url=server.url, max_outage="2")
    assert code == 3 and "Look for a result named" in written


def test_key_when_input_is_invalid_is_not_written(run) -> None:
    assert run(frequency="0")[0] == 2


def test_key_when_cancelled_is_not_written(world, serve, workspace: Path) -> None:
    server = serve(world(timing={"in_queue": 100_000}), real_time=True)
    assert run_cancelled(workspace, api_url=server.url)[0] == 143


def test_key_when_the_api_echoes_it_in_text_is_redacted(make_world, serve, run) -> None:
    """Even if Cekura put the key into a scenario name or an error, we would not repeat it."""
    hostile = make_world(
        [scenario(101, name=f"Leak {KEY}", outcome="error", error_message=f"bad key {KEY}")],
        api_key=KEY,
    )
    server = serve(hostile)
    code, written = run(api_url=server.url, junit_file="junit.xml", report_file="report.json")
    assert code == 1 and "Leak ***" in written
