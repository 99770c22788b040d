"""The gate with a baseline and a history, against the stand-in on fake time: what decides, what
is reported, every fallback, and the history's bounds in requests and time."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from cekura_ci import __version__
from cekura_ci.context import RunContext
from cekura_ci.earlier import TIME_BUDGET
from cekura_ci.errors import ExitCode
from tests.helpers import read_outputs, scenario
from tests.test_report import assert_matches_the_published_schema

PR = RunContext(
    repository="acme/app",
    ref_name="7/merge",
    head_ref="shorter-greeting",
    base_ref="main",
    sha="c0ffee1d2e3f",
    pull_request=7,
)


def on_main(result_id: int, commit: str, age: str, **extra: Any) -> dict[str, Any]:
    name = f"cekura-ci · acme/app · main · {commit} · run 1.1 · gate · 0a0b0c"
    return {"id": result_id, "name": name, "agent": 42, "age": age, "frequency": 3, **extra}


# Now 101 passes, 102 fails (it passed on main), 103 fails (it failed on main too).
SCENARIOS = [scenario(101), scenario(102, "Refund", outcome="fail"), scenario(103, outcome="fail")]
MAIN = [
    on_main(20, "aaaaaaa", "3d", outcomes={"102": "pass"}),
    on_main(21, "bbbbbbb", "1d", outcomes={"102": "pass"}),
]


@pytest.fixture
def gate_with(make_world, make_settings, make_gate, serve, clock):
    """A gate run as pull request 7 into main of acme/app, with `past` results on the stand-in."""

    def build(past=MAIN, scenarios=SCENARIOS, faults=(), world=None, **settings):
        server = serve(
            make_world(scenarios, past_results=list(past), faults=list(faults), **(world or {})),
            clock=clock.now,
        )
        ids = ",".join(str(s["id"]) for s in scenarios)
        gate, stream = make_gate(
            make_settings(api_url=server.url, scenario_ids=ids, frequency=3, **settings)
        )
        gate.context = PR
        return gate, stream, server

    return build


def summary_of(workspace: Path) -> str:
    return (workspace / "step_summary.md").read_text()


def details_fetched(server, own: int) -> list[str]:
    """Result details fetched other than this step's own result."""
    return [r.path for r in server.requests if r.endpoint == "result" and f"/{own}/" not in r.path]


def test_gate_when_a_scenario_regressed_fails_and_names_it_first(
    gate_with, workspace: Path
) -> None:
    """102 passed on main and fails now: the regression decides; 103's old failure does not."""
    gate, stream, _ = gate_with(baseline="auto")
    assert gate.run() == ExitCode.GATE_FAILED
    outputs = read_outputs(workspace / "github_output")
    assert outputs["baseline_result_id"] == "21" and outputs["regressed_scenarios"] == "[102]"
    assert outputs["fixed_scenarios"] == "[]" and outputs["outcome"] == "failed"
    summary = summary_of(workspace)
    assert summary.startswith(
        "## ❌ Cekura gate failed: 1 scenario regressed against main (result 21, bbbbbbb, 1 day old)"
    )
    assert summary.index("### Compared with main") < summary.index("### Scenarios")
    log = stream.getvalue()
    regressed = log.index("::error title=Scenario regressed against main%3A Refund [102]::")
    assert regressed < log.index("::warning title=Scenario failing%3A Scenario 103 [103]::")
    assert "Scenario failed%3A" not in log  # only regressions decide: old failures warn
    console = log[log.index("FAILED: ") :]
    assert console.index("REGRESSED Refund [102]") < console.index("FAIL  0/3  Refund")


def test_gate_when_only_old_failures_remain_passes_with_regressions_deciding(
    gate_with, workspace: Path
) -> None:
    """The thresholds fail (1/3 of runs pass) but nothing regressed: the gate passes."""
    past = [on_main(21, "bbbbbbb", "1d")]  # 102 failed on main too
    gate, _, _ = gate_with(past=past, baseline="auto")
    assert gate.run() == ExitCode.PASSED
    summary = summary_of(workspace)
    assert summary.startswith("## ✅ Cekura gate passed: no scenario regressed against main")
    assert "❌ not met (shown, not deciding)" in summary
    assert "Only regressions decide this gate" in summary


@pytest.mark.parametrize(
    ("gate_on", "code"),
    [
        ("threshold", ExitCode.GATE_FAILED),
        ("regressions", ExitCode.PASSED),
        ("both", ExitCode.GATE_FAILED),
        ("auto", ExitCode.PASSED),
    ],
)
def test_gate_when_gate_on_is_set_exits_by_the_rules_in_force(gate_with, gate_on, code) -> None:
    """Nothing regressed and the thresholds fail: only the threshold rule can fail the gate."""
    gate, _, _ = gate_with(past=[on_main(21, "bbbbbbb", "1d")], baseline="auto", gate_on=gate_on)
    assert gate.run() == code


def test_gate_when_no_baseline_exists_judges_on_the_thresholds_and_says_so(
    gate_with, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first run on a repository: no failure for want of a baseline."""
    gate, _, _ = gate_with(past=[], scenarios=[scenario(101)], baseline="auto")
    assert gate.run() == ExitCode.PASSED
    outputs = read_outputs(workspace / "github_output")
    assert outputs["baseline_result_id"] == "" and outputs["regressed_scenarios"] == "[]"
    summary = summary_of(workspace)
    assert summary.startswith("## ✅ Cekura gate passed: 100.00% of runs passed")
    assert "No baseline: no finished result of agent 42 on main was found" in summary
    assert any(
        r.levelname == "WARNING" and r.getMessage().startswith("No baseline: no finished result")
        for r in caplog.records
    )


def test_gate_when_the_results_list_is_refused_judges_on_the_thresholds(
    gate_with, workspace: Path
) -> None:
    gate, _, _ = gate_with(baseline="auto", history=3, world={"forbidden": ["results"]})
    assert gate.run() == ExitCode.GATE_FAILED  # the thresholds: 3 of 9 runs passed
    summary = summary_of(workspace)
    assert summary.startswith("## ❌ Cekura gate failed: 33.33% of runs passed")
    assert "No baseline: looking for it failed" in summary and "HTTP 403" in summary
    assert "No history: looking up earlier results failed" in summary


def test_gate_when_the_baseline_is_stale_uses_it_with_a_warning(
    gate_with, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate, _, _ = gate_with(
        past=[on_main(21, "bbbbbbb", "20d", outcomes={"102": "pass"})], baseline="auto"
    )
    assert gate.run() == ExitCode.GATE_FAILED
    summary = summary_of(workspace)
    assert "(result 21, bbbbbbb, 20 days old)" in summary
    assert "> [!WARNING]\n> ⚠️ **Old baseline.** It is 20 days old" in summary
    assert "The baseline is 20 days old (baseline_max_age_days is 14); it was used anyway." in [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    ]


def test_gate_when_the_baseline_is_a_report_file_makes_no_list_request(
    gate_with, workspace: Path
) -> None:
    """A nightly's JSON report (of an older 1.x: without the fields added since) is the baseline."""
    nightly, _, _ = gate_with(
        scenarios=[scenario(101), scenario(102, "Refund")], report_file="main.json"
    )
    assert nightly.run() == ExitCode.PASSED
    data = json.loads((workspace / "main.json").read_text())
    data.pop("result_created_at")
    data.pop("comparison")
    for s in data["scenarios"]:
        s.pop("unfinished")
    (workspace / "main.json").write_text(json.dumps(data))
    gate, _, server = gate_with(baseline="main.json")
    assert gate.run() == ExitCode.GATE_FAILED
    assert "results" not in [r.endpoint for r in server.requests]
    outputs = read_outputs(workspace / "github_output")
    assert outputs["regressed_scenarios"] == "[102]" and outputs["baseline_result_id"] == "9001"
    assert "Baseline: result **9001** from a report file" in summary_of(workspace)


def test_gate_when_the_report_file_holds_lone_surrogates_reports_the_verdict(
    gate_with, workspace: Path
) -> None:
    """A baseline file's names reach every report: made writable, never an unexpected error."""
    (workspace / "main.json").write_text(
        '{"schema_version": 1, "result_name": "cekura-ci · acme/app · ma\\ud800in · abcdef1",'
        ' "scenarios": [{"scenario_id": 102, "scenario_name": "Re\\udfff", "total": 3, "passed": 3}]}'
    )
    gate, _, _ = gate_with(baseline="main.json", report_file="r.json", junit_file="j.xml")
    assert gate.run() == ExitCode.GATE_FAILED
    assert read_outputs(workspace / "github_output")["regressed_scenarios"] == "[102]"
    assert "Compared with ma\ufffdin" in summary_of(workspace)
    json.loads((workspace / "r.json").read_text())


def test_gate_when_the_baseline_name_holds_a_huge_branch_keeps_the_summary_whole(
    gate_with, workspace: Path
) -> None:
    """`baseline: <id>` reads the branch from the result's name (API text): 300 KB of it once
    cut the summary off in its rules table, footer lost, and filled every annotation title."""
    huge = "b<@x#1|" * 43_000
    past = [on_main(21, "bbbbbbb", "1d", outcomes={"102": "pass"})]
    past[0]["name"] = past[0]["name"].replace(" main ", f" {huge} ")
    gate, stream, _ = gate_with(past=past, baseline="21")
    assert gate.run() == ExitCode.GATE_FAILED
    summary = summary_of(workspace)
    assert len(summary) < 50_000 and summary.rstrip().endswith(f"cekura-ci {__version__}")
    assert max(len(line) for line in stream.getvalue().splitlines()) < 5_000


def test_gate_when_the_result_times_out_looks_for_no_baseline(gate_with, workspace: Path) -> None:
    gate, _, server = gate_with(
        past=[], scenarios=[scenario(101, duration=3600)], baseline="auto", history=5, timeout=60
    )
    assert gate.run() == ExitCode.INFRASTRUCTURE
    assert "results" not in [r.endpoint for r in server.requests]
    assert read_outputs(workspace / "github_output")["baseline_result_id"] == ""


def test_report_file_when_compared_holds_the_comparison_block(gate_with, workspace: Path) -> None:
    gate, _, _ = gate_with(
        past=main_history(3),
        baseline="auto",
        regression_max_p="0.1",
        history=3,
        report_file="r.json",
    )
    gate.run()
    report = json.loads((workspace / "r.json").read_text())
    assert report["schema_version"] == 1
    assert_matches_the_published_schema(report)
    assert report["history"]["points"]
    block = report["comparison"]
    assert block["baseline"]["result_id"] == 32 and block["baseline"]["branch"] == "main"
    assert block["regression_max_p"] == 0.1 and block["stale"] is False
    regressed = [s for s in block["scenarios"] if s["classification"] == "regressed"]
    assert [(s["scenario_id"], s["baseline"]["passed"], s["now"]["passed"]) for s in regressed] == [
        (102, 3, 0)
    ]
    assert regressed[0]["p_value"] == pytest.approx(0.05)
    assert [r["name"] for r in report["rules"] if r["decides"]] == ["no regression against main"]


# --- history ------------------------------------------------------------------------------


def main_history(count: int) -> list[dict[str, Any]]:
    return [
        on_main(30 + i, f"{i:07x}", f"{count - i}d", outcomes={"102": "pass"}) for i in range(count)
    ]


def test_history_when_asked_shows_the_strip_and_the_trend(gate_with, workspace: Path) -> None:
    gate, _, _ = gate_with(past=main_history(3), baseline="auto", history=5)
    gate.run()
    summary = summary_of(workspace)
    assert "### History on main" in summary
    assert "| Refund | 102 | ✅ ✅ ✅ | ❌ |" in summary
    assert "| Scenario 103 | 103 | ❌ ❌ ❌ | ❌ |" in summary
    assert "```mermaid\nxychart-beta\n" in summary and 'x-axis ["30", "31", "32", "now"]' in summary


def test_history_when_bounded_makes_one_list_request_and_at_most_n_fetches(
    gate_with, workspace: Path
) -> None:
    """Ten results on main, history 4, baseline auto: the list once, four result fetches."""
    gate, _, server = gate_with(past=main_history(10), baseline="auto", history=4)
    gate.run()
    own = int(read_outputs(workspace / "github_output")["result_id"])
    assert [r.endpoint for r in server.requests].count("results") == 1
    assert sorted(details_fetched(server, own)) == [
        f"/test_framework/v1/results/{i}/" for i in (36, 37, 38, 39)
    ]


def test_history_when_cekura_is_slow_stops_within_its_time_budget(
    gate_with, workspace: Path, clock
) -> None:
    """Every other result fetch answers 503 with Retry-After 20 s: the look-up gives up within
    its budget (fake time), with a warning and no history; the verdict stands."""
    faults = [
        {"endpoint": "result", "at": list(range(1, 200, 2)), "kind": "status", "retry_after": 20}
    ]
    gate, _, server = gate_with(past=main_history(10), history=10, faults=faults)
    waited = []
    original = gate.compare

    def timed(*args):
        started = clock.now()
        try:
            return original(*args)
        finally:
            waited.append(clock.now() - started)

    gate.compare = timed
    assert gate.run() == ExitCode.GATE_FAILED  # the thresholds, as without a history
    assert waited and TIME_BUDGET / 2 < waited[0] <= TIME_BUDGET
    own = int(read_outputs(workspace / "github_output")["result_id"])
    assert len(details_fetched(server, own)) < 10 * 2
    summary = summary_of(workspace)
    assert (
        "### History on" not in summary
        and "No history: looking up earlier results failed" in summary
    )
    assert "Timed out fetching result" in summary or "took longer than 2m00s" in summary


def test_lookup_when_the_job_is_cancelled_meanwhile_exits_cancelled_with_the_verdict(
    gate_with, workspace: Path, clock
) -> None:
    """A cancel during the baseline look-up ends it at once: the finished result is still
    reported, the step exits 143 as cancelled, not with the verdict's code."""
    faults = [{"endpoint": "results", "kind": "status", "retry_after": 5}]
    gate, _, _ = gate_with(baseline="auto", faults=faults)
    original = gate.compare

    def cancel_then_compare(*args):
        clock.at(clock.now() + 1, lambda: clock.cancel.cancel(signal.SIGTERM))
        return original(*args)

    gate.compare = cancel_then_compare
    assert gate.run() == ExitCode.TERMINATED
    summary = summary_of(workspace)
    assert summary.startswith("## 🚫 Cekura gate cancelled: 9 of 9 runs had finished")
    assert "cancelled while the finished result was being compared" in summary
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "cancelled" and outputs["passed"] == "false"


def test_gate_when_cancelled_while_the_share_link_is_made_exits_with_the_signal(
    gate_with, workspace: Path, clock
) -> None:
    """The link request stops at once; the step is cancelled, its counts reported, no link."""
    faults = [{"endpoint": "share_link", "kind": "status", "retry_after": 5}]
    gate, _, server = gate_with(faults=faults, share_link="true")
    original = gate.client.create_share_link

    def cancelled_link(*args):
        clock.cancel.cancel(signal.SIGINT)
        return original(*args)

    gate.client.create_share_link = cancelled_link
    assert gate.run() == ExitCode.INTERRUPTED
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "cancelled" and outputs["result_url"] == ""
    assert "share_link" not in [r.endpoint for r in server.requests]
    assert summary_of(workspace).startswith("## 🚫 Cekura gate cancelled: 9 of 9 runs")
