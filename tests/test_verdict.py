"""The verdict: pass rate against thresholds, per-scenario states, agent vs infrastructure failures."""

from __future__ import annotations

import pytest

from cekura_ci.errors import Outcome
from cekura_ci.verdict import Policy, judge
from tests.factories import result, run, runs_for


def test_judge_when_all_runs_pass_passes() -> None:
    """Every run completed with success: 100% ≥ 100%."""
    v = judge(result(runs_for({101: "pp", 102: "p"})), Policy())
    assert v.gate_passed and v.outcome == Outcome.PASSED and v.pass_rate == 100.0
    assert (v.total_runs, v.passed_runs, v.failed_runs) == (3, 3, 0)


def test_judge_when_rate_below_threshold_fails_and_says_why() -> None:
    """3 of 4 is 75%, under 80%: the gate fails and the rule says so."""
    v = judge(result(runs_for({101: "ppp", 102: "f"})), Policy(pass_threshold=80))
    assert not v.gate_passed and v.outcome == Outcome.FAILED and v.pass_rate == 75.0
    assert "3 of 4 runs passed (75.00%); below the 80% threshold" in v.decided_by


def test_judge_when_rate_equals_threshold_passes() -> None:
    """The threshold is inclusive."""
    assert judge(result(runs_for({101: "ppp", 102: "f"})), Policy(pass_threshold=75)).gate_passed


def test_judge_when_the_rate_only_rounds_up_to_the_threshold_fails() -> None:
    """Compared exactly: 2 of 3 is below 66.67%, and 20,000 of 20,001 is below 100%."""
    assert not judge(result(runs_for({101: "ppf"})), Policy(pass_threshold=66.67)).gate_passed
    assert judge(result(runs_for({101: "ppf"})), Policy(pass_threshold=66.66)).gate_passed
    many = result(runs_for({101: "p" * 20_000 + "f"}))
    v = judge(many, Policy(pass_threshold=100))
    assert not v.gate_passed and "20000 of 20001 runs passed (100.00%); below" in v.decided_by


def test_scenario_when_below_its_threshold_by_a_rounding_margin_fails() -> None:
    """The per-scenario rule is exact too: 2/3 does not reach 66.67%."""
    v = judge(
        result(runs_for({101: "ppf"})), Policy(pass_threshold=0, scenario_pass_threshold=66.67)
    )
    assert not v.gate_passed and v.scenarios[0].meets_threshold is False


def test_scenario_when_flaky_below_its_threshold_has_the_one_state_failed() -> None:
    """A scenario has one state: below its threshold it is failed, not failed and flaky."""
    v = judge(result(runs_for({101: "pff", 102: "ppf"})), Policy(scenario_pass_threshold=60))
    states = {s.scenario_id: s.state for s in v.scenarios}
    assert states == {101: "failed", 102: "flaky"}
    assert [s.scenario_id for s in v.failed_scenarios] == [101]
    assert [s.scenario_id for s in v.flaky_scenarios] == [102]


def test_judge_when_no_runs_fails() -> None:
    """An empty result never passes, whatever the threshold."""
    v = judge(result([]), Policy(pass_threshold=0))
    assert not v.gate_passed and "no runs" in v.decided_by


def test_judge_when_run_completed_without_success_flag_counts_as_failed() -> None:
    """A pass needs status completed and success true; success null is not a pass."""
    v = judge(
        result([run(1, success=None), run(2, status="timeout", success=True)]),
        Policy(pass_threshold=0.01),
    )
    assert v.passed_runs == 0


def test_judge_when_runs_unfinished_at_the_end_counts_them_against_the_rate() -> None:
    """A run still running when the result ended is a failure (infrastructure)."""
    v = judge(result([run(1), run(2, status="running", success=None)]), Policy())
    assert v.pass_rate == 50.0 and v.infra_failures == 1
    assert "did not finish" in v.failed_run_verdicts[0].reason


def test_judge_when_frequency_above_one_marks_scenarios_passed_failed_or_flaky() -> None:
    """All pass: passed; none: failed; mixed: flaky with its count."""
    v = judge(result(runs_for({101: "ppp", 102: "fff", 103: "pfp"})), Policy())
    states = {s.scenario_id: (s.state, s.passed, s.total) for s in v.scenarios}
    assert states == {101: ("passed", 3, 3), 102: ("failed", 0, 3), 103: ("flaky", 2, 3)}
    assert [s.scenario_id for s in v.scenarios] == [102, 103, 101]  # failures first
    assert [s.scenario_id for s in v.failed_scenarios] == [102] and [
        s.scenario_id for s in v.flaky_scenarios
    ] == [103]


def test_judge_when_scenario_threshold_set_every_scenario_must_reach_it() -> None:
    """90% overall may pass while one scenario at 2/3 fails a 100% per-scenario rule."""
    v = judge(
        result(runs_for({101: "ppp", 102: "ppp", 103: "ppf", 104: "ppp"})),
        Policy(pass_threshold=90, scenario_pass_threshold=100),
    )
    assert [r.passed for r in v.rules] == [True, False]
    assert (
        not v.gate_passed and "Scenario 103 2/3" in v.decided_by and "per-scenario" in v.decided_by
    )
    assert [s.scenario_id for s in v.failed_scenarios] == [103]


def test_judge_when_scenario_threshold_met_passes() -> None:
    """66% lets 2 of 3 through."""
    assert judge(
        result(runs_for({101: "ppf", 102: "ppp"})),
        Policy(pass_threshold=80, scenario_pass_threshold=66),
    ).gate_passed


def test_judge_when_run_errored_before_the_conversation_is_an_infrastructure_failure() -> None:
    """error_message and no transcript: infrastructure; completed without success: agent."""
    v = judge(result(runs_for({101: "pfe"})), Policy())
    kinds = [r.kind for r in v.scenarios[0].runs]
    assert kinds == ["passed", "agent_failure", "infra_failure"]
    assert (v.agent_failures, v.infra_failures) == (1, 1)


def test_judge_when_api_lists_not_connected_runs_they_are_infrastructure() -> None:
    """The result's not_connected_runs / failed_infrastructure_runs mark runs as infrastructure."""
    runs = [run(1, outcome="fail"), run(2, outcome="fail")]
    v = judge(result(runs, not_connected_runs="[1]", failed_infrastructure_runs=[2]), Policy())
    assert v.infra_failures == 2 and v.agent_failures == 0


def test_judge_when_infra_failures_ignored_leaves_them_out_of_the_rate() -> None:
    """With infra_failures=ignore, 3 passed of 3 counted is 100% although a fourth run errored."""
    runs = runs_for({101: "ppp", 102: "e"})
    assert not judge(result(runs), Policy()).gate_passed
    v = judge(result(runs), Policy(infra_failures="ignore"))
    assert v.gate_passed and v.pass_rate == 100.0 and v.counted_runs == 3 and v.infra_failures == 1
    assert "1 infrastructure failures left out" in v.decided_by


def test_judge_when_every_run_is_infra_and_ignored_fails() -> None:
    v = judge(result(runs_for({101: "ee"})), Policy(infra_failures="ignore"))
    assert not v.gate_passed and "no runs to judge" in v.decided_by


def test_judge_when_run_fails_records_why() -> None:
    """The failing metrics, the ❌ explanation lines and the error message are kept."""
    v = judge(result(runs_for({101: "fe"})), Policy())
    failed, errored = v.scenarios[0].runs
    assert [m.name for m in failed.failed_metrics] == ["Booking confirmed"]
    assert failed.failed_expectations == ["Did not confirm the booking"]
    assert failed.reason == "failed metric: Booking confirmed"
    assert errored.reason == "SIP 503: callee unreachable"
    assert v.scenarios[0].main_reason in (failed.reason, errored.reason)


def test_judge_when_personalities_vary_groups_by_them() -> None:
    """Several personalities of one scenario are judged apart."""
    runs = [run(1, personality_name="Calm"), run(2, personality_name="Angry", outcome="fail")]
    v = judge(result(runs), Policy())
    assert sorted(s.label for s in v.scenarios) == ["Scenario 101 (Angry)", "Scenario 101 (Calm)"]


def test_judge_when_test_profiles_vary_groups_by_them() -> None:
    """Runs of one scenario under two test profiles are two rows, each with its own state."""
    runs = [
        run(1, test_profile_data={"name": "Gold member"}),
        run(2, test_profile_data={"name": "New caller"}, outcome="fail"),
    ]
    v = judge(result(runs), Policy())
    states = {s.label: s.state for s in v.scenarios}
    assert states == {"Scenario 101 (Gold member)": "passed", "Scenario 101 (New caller)": "failed"}


def test_judge_when_interrupted_fails_with_that_outcome() -> None:
    """A timeout keeps what was known but never passes the gate."""
    v = judge(
        result(runs_for({101: "pp"}), status="running"),
        Policy(),
        interruption=(Outcome.TIMEOUT, "timed out"),
    )
    assert (
        not v.gate_passed
        and v.outcome == Outcome.TIMEOUT
        and v.passed_runs == 2
        and v.decided_by == "timed out"
    )


def test_judge_when_no_result_is_known_reports_the_id() -> None:
    v = judge(None, Policy(), result_id=5, interruption=(Outcome.ERROR, "down"))
    assert v.result_id == 5 and v.total_runs == 0 and v.status == "unknown"


def test_metrics_summary_when_binary_and_numeric_counts_failures_and_median() -> None:
    """Binary metrics count failed runs; numeric ones give p50."""
    latency = lambda ms: {"name": "Latency", "type": "numeric", "score": ms}  # noqa: E731
    runs = [
        run(
            1,
            evaluation={
                "metrics": [latency(100), {"name": "Greeting", "type": "binary", "score": 5}]
            },
        ),
        run(
            2,
            evaluation={
                "metrics": [latency(300), {"name": "Greeting", "type": "binary", "score": 0}]
            },
        ),
        run(3, evaluation={"metrics": [latency(200)]}),
    ]
    metrics = {m.name: m for m in judge(result(runs), Policy()).metrics}
    assert metrics["Greeting"].failed == 1 and metrics["Greeting"].runs == 2
    assert metrics["Latency"].p50 == 200 and metrics["Latency"].failed is None


def test_judge_when_run_has_no_scenario_names_it_as_cekura_does() -> None:
    """A run whose scenario was deleted has neither id nor name: "Scenario Deleted"."""
    v = judge(result([run(1, scenario=None, name="", scenario_name="")]), Policy())
    assert v.scenarios[0].scenario_name == "Scenario Deleted"


# --- interrupted results: runs not finished are not failures -------------------------------------


def interrupted_result():
    """15 runs of 5 scenarios, the result still running: 7 passed, 2 failed, 6 not finished."""
    runs = runs_for({101: "ppp", 102: "ppf", 103: "pf"}) + runs_for({104: "p"}, start=9)
    still_going = [
        (103, "running"),
        (104, "running"),
        (104, "pending"),
        (105, "in_queue"),
        (105, "running"),
        (105, "scaling_up"),
    ]
    running = [
        run(i, scenario, status=status, success=None, transcript_object=[])
        for i, (scenario, status) in enumerate(still_going, start=10)
    ]
    return result(runs + running, status="running")


def test_judge_when_interrupted_marks_runs_still_going_unfinished_not_failed() -> None:
    """A result that had not ended: its running runs are unfinished, neither passed nor failed."""
    v = judge(interrupted_result(), Policy(), interruption=(Outcome.TIMEOUT, "timed out"))
    assert (v.total_runs, v.passed_runs, v.failed_runs, v.unfinished_runs) == (15, 7, 2, 6)
    assert v.infra_failures == 0 and v.agent_failures == 2
    assert len(v.failed_run_verdicts) == 2 and len(v.unfinished_run_verdicts) == 6
    assert {r.reason for r in v.unfinished_run_verdicts} >= {"not finished (still running)"}


def test_judge_when_interrupted_rates_only_the_finished_runs_and_still_fails() -> None:
    """The rate is of the 9 runs that finished; an interrupted gate never passes, exit code kept."""
    v = judge(interrupted_result(), Policy(pass_threshold=50), interruption=(Outcome.TIMEOUT, "x"))
    assert v.counted_runs == 9 and round(v.pass_rate, 2) == 77.78
    assert not v.gate_passed and v.outcome == Outcome.TIMEOUT
    assert v.headline == "9 of 15 runs had finished (7 passed, 2 failed)"


def test_scenario_when_no_run_had_finished_is_unfinished_and_judged_on_nothing() -> None:
    """Scenario 105 had no finished run: state unfinished, no threshold verdict, listed after
    failed and flaky ones."""
    v = judge(
        interrupted_result(),
        Policy(scenario_pass_threshold=50),
        interruption=(Outcome.CANCELLED, "cancelled"),
    )
    states = {s.scenario_id: (s.state, s.unfinished) for s in v.scenarios}
    assert states == {
        101: ("passed", 0),
        102: ("flaky", 0),
        103: ("flaky", 1),
        104: ("passed", 2),
        105: ("unfinished", 3),
    }
    assert [s.scenario_id for s in v.scenarios][-3:] == [105, 101, 104]
    assert next(s for s in v.scenarios if s.scenario_id == 105).meets_threshold is None


def test_judge_when_result_ended_with_runs_still_going_they_are_not_unfinished() -> None:
    """The result is terminal: a run that never finished is an infrastructure failure."""
    v = judge(result([run(1), run(2, status="running", success=None)]), Policy())
    assert v.unfinished_runs == 0 and v.infra_failures == 1


def test_headline_when_the_scenario_rule_decides_names_that_rule() -> None:
    """The overall rate passed; the per-scenario rule failed: the headline speaks of scenarios."""
    v = judge(
        result(runs_for({101: "ppp", 102: "ppp", 103: "ppf"})),
        Policy(pass_threshold=80, scenario_pass_threshold=70),
    )
    assert not v.gate_passed
    assert v.headline == "1 of 3 scenarios below the 70% per-scenario threshold"


def test_headline_when_both_rules_fail_names_both_and_when_passing_names_each() -> None:
    failing = judge(
        result(runs_for({101: "pff", 102: "ppp"})),
        Policy(pass_threshold=90, scenario_pass_threshold=50),
    )
    assert failing.headline == (
        "66.67% of runs passed (threshold 90%) and "
        "1 of 2 scenarios below the 50% per-scenario threshold"
    )
    passing = judge(result(runs_for({101: "ppf"})), Policy(pass_threshold=60))
    assert passing.headline == "66.67% of runs passed (threshold 60%)"


def test_scenario_rule_when_names_are_huge_clips_them_in_its_detail() -> None:
    """API names are clipped where the rule repeats them, so the rule stays small."""
    runs = [run(i, 100 + i, "fail", name="N" * 300_000) for i in range(1, 6)]
    v = judge(result(runs), Policy(pass_threshold=0, scenario_pass_threshold=50))
    assert len(v.decided_by) < 1_000 and "N" * 119 + "…" in v.decided_by


def test_judge_when_metric_types_are_legacy_binary_counts_their_failures() -> None:
    """`binary_workflow_adherence` and `binary_qualitative` fail a run's metric like `binary`, in
    the reasons and in the metrics table."""
    legacy = [
        {"name": "Workflow", "type": "binary_workflow_adherence", "score": 0},
        {"name": "Tone", "type": "Binary_Qualitative", "score": 0, "explanation": ["Curt."]},
        {"name": "Latency", "type": "numeric", "score": 0},
    ]
    failing = run(1, outcome="fail", evaluation={"metrics": legacy}, expected_outcome=None)
    passing = run(2, evaluation={"metrics": [{**m, "score": 5} for m in legacy]})
    v = judge(result([failing, passing]), Policy())
    first = v.scenarios[0].runs[0]
    assert [m.name for m in first.failed_metrics] == ["Workflow", "Tone"]
    assert first.reason == "failed metric: Workflow"
    table = {m.name: (m.type, m.failed, m.runs) for m in v.metrics}
    assert table == {
        "Workflow": ("binary_workflow_adherence", 1, 2),
        "Tone": ("binary_qualitative", 1, 2),
        "Latency": ("numeric", None, 2),
    }


def test_judge_when_scenario_is_an_object_keeps_each_scenario_apart() -> None:
    """Runs whose `scenario` is `{"id": …, "name": …}` are grouped by that id, not into one."""
    runs = [
        {**run(1, outcome="fail"), "scenario": {"id": 5, "name": "Refund"}, "scenario_name": None},
        {**run(2), "scenario": {"id": 6, "name": "Booking"}, "scenario_name": None},
        {**run(3), "scenario": {"id": 6, "name": "Booking"}, "scenario_name": None},
    ]
    v = judge(result(runs), Policy())
    assert [(s.scenario_id, s.scenario_name, s.total) for s in v.scenarios] == [
        (5, "Refund", 1),
        (6, "Booking", 2),
    ]
    assert v.failed_scenarios[0].scenario_id == 5


def test_judge_when_runs_passed_keeps_the_end_of_the_call_only_for_failing_runs() -> None:
    """The verdict carries transcript tails for failing runs only; passing runs have none."""
    v = judge(result(runs_for({101: "pf"})), Policy())
    by_kind = {r.kind: r for r in v.scenarios[0].runs}
    assert by_kind["passed"].transcript_tail == []
    assert [t.content for t in by_kind["agent_failure"].transcript_tail] == [
        "Hello, how can I help?",
        "I'd like to book.",
    ]


def test_judge_when_api_text_has_lone_surrogates_every_report_encodes() -> None:
    """Names, errors and turns with a lone surrogate judge and render to UTF-8 without a crash."""
    from cekura_ci.report.json_report import render_json
    from cekura_ci.report.junit import render_junit
    from cekura_ci.report.markdown import render_console, render_summary

    bad = "Caf\udce9 \ud800"
    runs = [
        run(1, outcome="fail", name=bad, error_message=bad, personality_name=bad),
        run(2, outcome="fail", transcript_object=[{"role": bad, "content": bad}]),
    ]
    v = judge(result(runs, name=bad), Policy())
    assert "\ufffd" in v.scenarios[0].scenario_name + (v.result_name or "")
    for text in (render_json(v), render_junit(v), render_summary(v), render_console(v)):
        text.encode("utf-8")


# --- what each run's verdict keeps, and why it failed ----------------------------------------


@pytest.mark.parametrize(
    ("value", "failed"),
    [("false", True), ("No", True), (" 0 ", True), ("FAIL", True), ("true", False), ("", False)],
)
def test_binary_metric_when_scored_only_by_its_value_fails_on_a_no(
    value: str, failed: bool
) -> None:
    """A binary metric without a score is read from its value: false / no / 0 / fail, any case."""
    metric = {"name": "Greeted", "type": "binary", "value": value}
    failing = run(1, outcome="fail", evaluation={"metrics": [metric]}, expected_outcome=None)
    v = judge(result([failing]), Policy())
    assert [m.name for m in v.scenarios[0].runs[0].failed_metrics] == (
        ["Greeted"] if failed else []
    )


def test_metric_when_its_type_is_missing_is_never_a_binary_failure() -> None:
    metric = {"name": "Unknown", "score": 0, "value": "false"}
    failing = run(1, outcome="fail", evaluation={"metrics": [metric]})
    assert judge(result([failing]), Policy()).scenarios[0].runs[0].failed_metrics == []


@pytest.mark.parametrize(
    ("status", "conversation", "error", "kind"),
    [
        ("failed", True, None, "agent_failure"),  # it talked, then failed: the agent's doing
        ("timeout", False, None, "infra_failure"),  # never talked
        ("completed", False, None, "agent_failure"),  # completed without success: judged
        ("completed", False, "room closed", "infra_failure"),  # an error before any talk
        ("failed", True, "bot crashed", "agent_failure"),  # an error during the talk
    ],
)
def test_run_kind_when_status_conversation_and_error_combine(
    status: str, conversation: bool, error: str | None, kind: str
) -> None:
    """Infrastructure failure: no conversation and an error or a status short of completed."""
    turns = [{"role": "Main Agent", "content": "Hello"}] if conversation else []
    failing = run(1, status=status, success=False, transcript_object=turns, error_message=error)
    assert judge(result([failing]), Policy()).scenarios[0].runs[0].kind == kind


def test_run_verdict_when_judged_keeps_what_the_reports_show() -> None:
    """Score, explanation, success, error, duration and the unmet expectation as the reason."""
    metric = {"name": "Booked", "type": "binary", "score": 0, "explanation": ["No slot."]}
    failing = run(
        1,
        outcome="fail",
        evaluation={"metrics": [metric]},
        error_message="",
        duration="02:05",
    )
    [verdict_run] = judge(result([failing]), Policy()).scenarios[0].runs
    [failed] = verdict_run.failed_metrics
    assert (failed.score, failed.explanation) == (0, ["No slot."])
    assert (verdict_run.success, verdict_run.duration) == (False, "02:05")
    only_expectations = run(2, outcome="fail", evaluation={"metrics": []})
    [second] = judge(result([only_expectations]), Policy()).scenarios[0].runs
    assert second.reason == "Did not confirm the booking"
    errored = run(3, outcome="error")
    [third] = judge(result([errored]), Policy()).scenarios[0].runs
    assert third.error_message == "SIP 503: callee unreachable" and third.success is False
