"""The whole gate against the emulator on loopback, with fake time shared by both sides."""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path

import pytest

from cekura_ci.errors import ExitCode
from cekura_ci.outputs import OUTPUTS
from tests.helpers import read_outputs, scenario

OUTPUT_NAMES = set(OUTPUTS)


@pytest.fixture
def gate_for(make_world, make_settings, make_gate, serve, clock):
    def build(scenarios=None, faults=(), **settings):
        server = serve(make_world(scenarios, faults=list(faults)), clock=clock.now)
        gate, stream = make_gate(make_settings(api_url=server.url, **settings))
        return gate, stream, server

    return build


def endpoints(server) -> list[str]:
    return [r.endpoint for r in server.requests]


def test_gate_when_all_runs_pass_exits_0_with_outputs_and_summary(
    gate_for, workspace: Path
) -> None:
    """Trigger once, poll to completed, write the summary and every output."""
    gate, stream, server = gate_for(
        [scenario(101), scenario(102)], scenario_ids="101,102", frequency=2
    )
    assert gate.run() == ExitCode.PASSED
    outputs = read_outputs(workspace / "github_output")
    assert set(outputs) == OUTPUT_NAMES
    assert (
        outputs["outcome"] == "passed"
        and outputs["passed"] == "true"
        and outputs["pass_rate"] == "100.00"
    )
    assert (outputs["total_runs"], outputs["passed_runs"], outputs["failed_runs"]) == (
        "4",
        "4",
        "0",
    )
    assert outputs["status"] == "completed" and outputs["failed_scenarios"] == "[]"
    assert endpoints(server).count("trigger") == 1
    summary = (workspace / "step_summary.md").read_text()
    assert (
        summary.startswith("## ✅ Cekura gate passed")
        and Path(outputs["summary_file"]).read_text() == summary
    )
    assert "[0s] in_queue · 0/4 runs done" in stream.getvalue()


def test_gate_when_a_scenario_fails_exits_1_and_annotates_it(gate_for, workspace: Path) -> None:
    gate, stream, _ = gate_for(
        [scenario(101), scenario(102, "Refund", outcome="fail")], scenario_ids="101,102"
    )
    assert gate.run() == ExitCode.GATE_FAILED
    outputs = read_outputs(workspace / "github_output")
    assert (
        outputs["outcome"] == "failed"
        and outputs["failed_scenarios"] == "[102]"
        and outputs["pass_rate"] == "50.00"
    )
    assert "::error title=Scenario failed%3A Refund [102]::0/1 runs passed" in stream.getvalue()


def test_gate_when_result_id_given_waits_without_triggering(
    gate_for, workspace: Path, make_settings, make_gate
) -> None:
    """A re-run adopts the existing result: no POST is sent."""
    gate, _, server = gate_for()
    assert gate.run() == ExitCode.PASSED
    result_id = read_outputs(workspace / "github_output")["result_id"]
    again, _ = make_gate(
        make_settings(api_url=server.url, result_id=result_id, agent_id="", scenario_ids="")
    )
    assert again.run() == ExitCode.PASSED
    assert endpoints(server).count("trigger") == 1


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)],
)
def test_gate_when_cancelled_ends_calls_and_reports_cancelled(
    gate_for, clock, workspace: Path, signum, code
) -> None:
    """A cancellation stops polling, ends the calls, writes the summary and outputs, exits 130/143."""
    gate, _, server = gate_for()
    clock.at(25, lambda: clock.cancel.cancel(signum))
    assert gate.run() == code
    assert endpoints(server)[-1] == "end_calls"
    outputs = read_outputs(workspace / "github_output")
    assert (
        outputs["outcome"] == "cancelled"
        and outputs["passed"] == "false"
        and outputs["result_id"] == "9001"
    )
    summary = (workspace / "step_summary.md").read_text()
    assert (
        "🚫 Cekura gate cancelled" in summary
        and "The job was cancelled" in summary
        and "asked to end" in summary
    )


def test_gate_when_cancelled_and_end_calls_off_leaves_calls_running(
    gate_for, clock, workspace: Path
) -> None:
    gate, _, server = gate_for(end_calls_on_cancel="false")
    clock.at(25, lambda: clock.cancel.cancel(signal.SIGINT))
    assert gate.run() == ExitCode.INTERRUPTED
    assert "end_calls" not in endpoints(server)
    assert "`result_id` input set to 9001" in (workspace / "step_summary.md").read_text()


def test_gate_when_timeout_passes_ends_calls_and_exits_3(gate_for, workspace: Path) -> None:
    """Past `timeout`: outcome timeout, exit 3, calls ended, what was known reported."""
    gate, _, server = gate_for([scenario(101, duration=3600)], timeout=60)
    assert gate.run() == ExitCode.INFRASTRUCTURE
    assert "end_calls" in endpoints(server)
    outputs = read_outputs(workspace / "github_output")
    assert (
        outputs["outcome"] == "timeout"
        and outputs["status"] == "running"
        and outputs["total_runs"] == "1"
    )
    assert "⏱️ Cekura gate timed out" in (workspace / "step_summary.md").read_text()


def test_gate_when_a_large_result_times_out_reports_why_runs_failed_from_the_detail(
    gate_for, workspace: Path
) -> None:
    """200 runs are polled by their row in the results list (statuses only); on a timeout the
    detail is read once, so the summary still says why the finished runs failed."""
    scenarios = [scenario(101, outcome="fail", duration=60), scenario(102, duration=100_000)]
    gate, _, server = gate_for(scenarios, scenario_ids="101,102", frequency=100, timeout=600)
    assert gate.run() == ExitCode.INFRASTRUCTURE
    assert "results" in endpoints(server)  # the row stood in for the detail while waiting
    summary = (workspace / "step_summary.md").read_text()
    assert "failed metric: Task completed" in summary


def test_gate_when_api_stays_down_gives_up_with_result_id_and_advice(
    gate_for, workspace: Path
) -> None:
    """A long outage: outcome error, exit 3, the result id in outputs and summary, where to look."""
    gate, _, server = gate_for(
        faults=[{"endpoint": "result", "kind": "status", "status": 503}], max_outage=120
    )
    assert gate.run() == ExitCode.INFRASTRUCTURE
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "error" and outputs["result_id"] == "9001"
    summary = (workspace / "step_summary.md").read_text()
    assert (
        "⚠️ Cekura gate errored" in summary
        and "runs may still be going" in summary
        and "9001" in summary
    )
    assert "end_calls" not in endpoints(server)


def test_gate_when_transient_faults_hit_polling_still_judges(
    gate_for, workspace: Path, caplog
) -> None:
    """503, 429, HTML, cut-off JSON and a dropped connection while polling are ridden out."""
    faults = [
        {"endpoint": "result", "at": [1], "kind": "status", "status": 503},
        {"endpoint": "result", "at": [2], "kind": "status", "status": 429, "retry_after": 3},
        {"endpoint": "result", "at": [3], "kind": "html"},
        {"endpoint": "result", "at": [4], "kind": "truncated"},
        {"endpoint": "result", "at": [5], "kind": "drop"},
    ]
    gate, _, _ = gate_for(faults=faults)
    with caplog.at_level("INFO", logger="cekura_ci"):
        assert gate.run() == ExitCode.PASSED
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 5


def test_gate_when_reports_requested_writes_junit_and_json(gate_for, workspace: Path) -> None:
    gate, _, _ = gate_for(junit_file="reports/cekura.xml", report_file="reports/cekura.json")
    gate.run()
    outputs = read_outputs(workspace / "github_output")
    assert (
        outputs["junit_file"] == "reports/cekura.xml"
        and "<testsuites" in Path("reports/cekura.xml").read_text()
    )
    assert json.loads(Path(outputs["report_file"]).read_text())["outcome"] == "passed"


def test_gate_when_share_link_requested_links_it(gate_for, workspace: Path) -> None:
    """share_link creates an expiring public link, outputs it and links it in the summary."""
    gate, _, server = gate_for(share_link="true", share_link_ttl_hours="2")
    gate.run()
    outputs = read_outputs(workspace / "github_output")
    assert outputs["result_url"].startswith("https://dashboard.cekura.ai/share/")
    assert (
        f"[open in Cekura]({outputs['result_url']})" in (workspace / "step_summary.md").read_text()
    )
    [share] = [r for r in server.requests if r.endpoint == "share_link"]
    expire_at = dt.datetime.fromisoformat(share.body["expire_at"])
    expected = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    assert abs(expire_at - expected) < dt.timedelta(minutes=1)


def test_gate_when_share_link_not_requested_creates_none(gate_for, workspace: Path) -> None:
    gate, _, server = gate_for()
    gate.run()
    assert (
        "share_link" not in endpoints(server)
        and read_outputs(workspace / "github_output")["result_url"] == ""
    )


def test_gate_when_many_scenarios_fail_bounds_annotations(gate_for, workspace: Path) -> None:
    """At most 10 error annotations, then one that says how many more."""
    scenarios = [scenario(100 + i, outcome="fail") for i in range(13)]
    gate, stream, _ = gate_for(scenarios, scenario_ids=",".join(str(100 + i) for i in range(13)))
    assert gate.run() == ExitCode.GATE_FAILED
    errors = [
        line
        for line in stream.getvalue().splitlines()
        if line.startswith("::error title=Scenario failed")
    ]
    assert len(errors) == 10 and "3 more scenarios failed" in stream.getvalue()


def test_gate_when_many_scenarios_are_flaky_bounds_warnings(gate_for, workspace: Path) -> None:
    """At most 10 warning annotations too, then one that says how many more."""
    scenarios = [scenario(100 + i, outcome="flaky") for i in range(12)]
    gate, stream, _ = gate_for(
        scenarios,
        scenario_ids=",".join(str(100 + i) for i in range(12)),
        frequency=2,
        pass_threshold=0,
    )
    assert gate.run() == ExitCode.PASSED
    warnings = [
        line
        for line in stream.getvalue().splitlines()
        if line.startswith("::warning title=Scenario flaky")
    ]
    assert len(warnings) == 10 and "2 more scenarios flaky" in stream.getvalue()


def test_gate_when_flaky_with_frequency_3_warns(gate_for, workspace: Path) -> None:
    gate, stream, _ = gate_for([scenario(101, outcome="flaky")], frequency=3, pass_threshold=60)
    assert gate.run() == ExitCode.PASSED
    assert read_outputs(workspace / "github_output")["flaky_scenarios"] == "[101]"
    assert (
        "::warning title=Scenario flaky%3A Scenario 101 [101]::2/3 runs passed" in stream.getvalue()
    )


def test_gate_when_cancelled_ends_calls_with_a_short_timeout(
    gate_for, clock, monkeypatch, workspace: Path
) -> None:
    """The runner kills the job seconds after SIGTERM: end_calls may not wait a full request timeout."""
    gate, _, _ = gate_for(request_timeout=30)
    seen = []
    monkeypatch.setattr(
        gate.client, "end_calls", lambda result_id, timeout=None: seen.append((result_id, timeout))
    )
    clock.at(25, lambda: clock.cancel.cancel(signal.SIGINT))
    assert gate.run() == ExitCode.INTERRUPTED
    assert seen == [(9001, 5.0)]


def test_gate_when_end_calls_fails_still_reports_cancelled(
    gate_for, clock, workspace: Path
) -> None:
    """An error while ending the calls is logged, never lost in a traceback."""
    gate, _, _ = gate_for(faults=[{"endpoint": "end_calls", "kind": "status", "status": 500}])
    clock.at(25, lambda: clock.cancel.cancel(signal.SIGTERM))
    assert gate.run() == ExitCode.TERMINATED
    assert read_outputs(workspace / "github_output")["outcome"] == "cancelled"


def test_gate_when_the_key_is_refused_while_polling_exits_2_with_the_result_id(
    gate_for, workspace: Path
) -> None:
    """A key revoked mid-run: a usage error, reported with what was known and the result id."""
    gate, _, server = gate_for(
        faults=[{"endpoint": "result", "at": [2], "kind": "status", "status": 401}]
    )
    assert gate.run() == ExitCode.USAGE_ERROR
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "error" and outputs["result_id"] == "9001"
    summary = (workspace / "step_summary.md").read_text()
    assert "Cekura refused a request for the result" in summary and "end_calls" not in endpoints(
        server
    )
