"""The gate end to end against worlds shaped like the real API's variations: counts as numbers or
strings, every result status, runs that time out, personality × test-profile runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from cekura_ci.errors import ExitCode
from tests.helpers import API_KEY, read_outputs, scenario

PERSONALITIES = [{"id": 1, "name": "Normal Female"}, {"id": 2, "name": "Impatient Male"}]
PROFILES = [{"id": 20, "name": "Existing patient"}, {"id": 21, "name": "New patient"}]


@pytest.fixture
def gate_in(make_world, make_settings, make_gate, serve, clock):
    """A gate on a world of its own: (gate, console stream, server)."""

    def build(scenarios: list[dict[str, Any]], world: dict[str, Any] | None = None, **settings):
        server = serve(make_world(scenarios, **(world or {})), clock=clock.now)
        ids = ",".join(str(s["id"]) for s in scenarios)
        gate, stream = make_gate(make_settings(api_url=server.url, scenario_ids=ids, **settings))
        return gate, stream, server

    return build


def outputs(workspace: Path) -> dict[str, str]:
    return read_outputs(workspace / "github_output")


@pytest.mark.parametrize("counts", ["number", "string"])
def test_gate_when_counts_come_as_numbers_or_strings_judges_the_same(
    gate_in, workspace: Path, counts: str
) -> None:
    gate, _, _ = gate_in(
        [scenario(101), scenario(102, outcome=["pass", "fail"])], {"counts": counts}, frequency=2
    )
    assert gate.run() == ExitCode.GATE_FAILED
    out = outputs(workspace)
    assert (out["total_runs"], out["passed_runs"], out["failed_runs"]) == ("4", "3", "1")
    assert out["flaky_scenarios"] == "[102]" and out["status"] == "completed"


def test_gate_when_the_result_goes_through_every_waiting_status_waits_then_passes(
    gate_in, workspace: Path
) -> None:
    """pending, in_queue, scaling_up, in_progress, running, evaluating all mean: keep waiting."""
    timing = {
        "pending": 10, "in_queue": 10, "scaling_up": 10, "in_progress": 10, "evaluating": 30,
    }  # fmt: skip
    gate, stream, _ = gate_in([scenario(101, duration=60)], {"timing": timing})
    assert gate.run() == ExitCode.PASSED
    seen = [
        line.split("] ")[1].split(" ·")[0]
        for line in stream.getvalue().splitlines()
        if "runs done" in line
    ]
    assert list(dict.fromkeys(seen)) == [
        "pending", "in_queue", "scaling_up", "in_progress", "running", "evaluating", "completed",
    ]  # fmt: skip
    assert outputs(workspace)["outcome"] == "passed"


def test_gate_when_no_run_connects_and_the_result_fails_reports_infrastructure(
    gate_in, workspace: Path
) -> None:
    gate, _, _ = gate_in([scenario(101, outcome="error")], frequency=2)
    assert gate.run() == ExitCode.GATE_FAILED
    out = outputs(workspace)
    assert (out["status"], out["infra_failed_runs"], out["passed_runs"]) == ("failed", "2", "0")


def test_gate_when_the_result_times_out_counts_its_cut_runs_against_it(
    gate_in, workspace: Path
) -> None:
    timing = {"in_queue": 5, "scaling_up": 5, "evaluating": 10, "result_timeout": 300}
    gate, _, _ = gate_in([scenario(101), scenario(102, duration=900)], {"timing": timing})
    assert gate.run() == ExitCode.GATE_FAILED
    out = outputs(workspace)
    assert (out["status"], out["passed_runs"], out["failed_scenarios"]) == ("timeout", "1", "[102]")
    assert "did not finish within its time limit" in (workspace / "step_summary.md").read_text()


def test_gate_when_a_run_times_out_fails_that_scenario(gate_in, workspace: Path) -> None:
    gate, _, _ = gate_in([scenario(101), scenario(102, outcome="timeout")])
    assert gate.run() == ExitCode.GATE_FAILED
    out = outputs(workspace)
    assert (out["status"], out["failed_scenarios"]) == ("completed", "[102]")


def test_gate_when_someone_else_ends_the_calls_reports_the_cancelled_result(
    gate_in, clock, workspace: Path
) -> None:
    """Cancelled from outside (the dashboard, another job): terminal, judged, not passed."""
    gate, _, server = gate_in([scenario(101, duration=600)])
    clock.at(
        100,
        lambda: requests.post(
            server.url + "/test_framework/v1/results/9001/end_calls/",
            headers={"X-CEKURA-API-KEY": API_KEY},
            timeout=5,
        ),
    )
    assert gate.run() == ExitCode.GATE_FAILED
    out = outputs(workspace)
    assert (out["status"], out["passed"]) == ("cancelled", "false")


def test_gate_when_personalities_and_profiles_multiply_runs_groups_by_them(
    gate_in, workspace: Path
) -> None:
    """2 scenarios × 2 personalities × 2 profiles: each combination judged on its own."""
    world = {"personalities": PERSONALITIES, "test_profiles": PROFILES}
    gate, _, server = gate_in(
        [
            scenario(101, by_personality={2: "fail"}),
            scenario(102, by_profile={21: ["pass", "fail"]}),
        ],
        world,
        personality_ids="1,2",
        test_profile_ids="20,21",
        frequency=2,
    )
    assert gate.run() == ExitCode.GATE_FAILED
    [trigger] = [r for r in server.requests if r.endpoint == "trigger"]
    assert (trigger.body["personality_ids"], trigger.body["test_profile_ids"]) == ([1, 2], [20, 21])
    out = outputs(workspace)
    assert (out["total_runs"], out["passed_runs"]) == ("16", "10")
    summary = (workspace / "step_summary.md").read_text()
    assert "Scenario 101 \\(Impatient Male, Existing patient\\)" in summary
    assert "Scenario 102 \\(Normal Female, New patient\\)" in summary
    assert out["failed_scenarios"] == "[101]" and out["flaky_scenarios"] == "[102]"
