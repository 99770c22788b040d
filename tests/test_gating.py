"""gate_on and the regression rule: which rules decide, what the headline says, how a verdict is
seen by the comparison (tallies) and by the history (strip states)."""

from __future__ import annotations

import datetime as dt

import pytest

from cekura_ci.comparison import Baseline, Comparison, ScenarioTally
from cekura_ci.errors import Outcome
from cekura_ci.gating import (
    baseline_of,
    compared,
    decide,
    outcomes,
    plain_branch,
    tallies,
    thresholds_decide,
)
from cekura_ci.verdict import Policy, Verdict, judge
from tests.factories import result, runs_for

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def verdict_of(pattern: dict[int, str], threshold: float = 100, **extra: object) -> Verdict:
    return judge(result(runs_for(pattern), **extra), Policy(pass_threshold=threshold))


def main_baseline(pattern: dict[int, str], **extra: object) -> Baseline:
    base = verdict_of(pattern, id=812, name="cekura-ci · acme/app · main · abc1234 · run 1.1")
    return baseline_of(base, source="auto", branch="main", commit="abc1234", **extra).model_copy(
        update={"created_at": NOW - dt.timedelta(days=2)}
    )


def compare_now(now: Verdict, base: Baseline, **extra: object) -> Comparison:
    return compared(now, base, regression_max_p=None, as_of=NOW, max_age_days=14, **extra)


# On main 103 passed and 104 already failed. Now 103 fails: one regression, one old failure.
MAIN = {101: "ppp", 103: "ppp", 104: "fff"}
REGRESSED = {101: "ppp", 103: "fff", 104: "fff"}
UNCHANGED = {101: "ppp", 103: "ppp", 104: "fff"}


@pytest.mark.parametrize(
    ("gate_on", "now", "found", "passed", "deciding"),
    [
        # auto: regressions when a baseline was found, the thresholds otherwise.
        ("auto", UNCHANGED, True, True, ["no regression against main"]),
        ("auto", REGRESSED, True, False, ["no regression against main"]),
        ("auto", UNCHANGED, False, False, ["pass rate ≥ 100%"]),
        # threshold: today's rules; the regression rule is shown, not deciding.
        ("threshold", UNCHANGED, True, False, ["pass rate ≥ 100%"]),
        ("threshold", {101: "ppp", 103: "ppp", 104: "ppp"}, True, True, ["pass rate ≥ 100%"]),
        # regressions: a pre-existing failure does not block; a regression does.
        ("regressions", UNCHANGED, True, True, ["no regression against main"]),
        ("regressions", REGRESSED, True, False, ["no regression against main"]),
        ("regressions", UNCHANGED, False, False, ["pass rate ≥ 100%"]),
        # both: either fails the gate.
        ("both", UNCHANGED, True, False, ["no regression against main", "pass rate ≥ 100%"]),
        ("both", REGRESSED, True, False, ["no regression against main", "pass rate ≥ 100%"]),
        ("both", UNCHANGED, False, False, ["pass rate ≥ 100%"]),
    ],
)
def test_decide_when_gate_on_is_set_puts_those_rules_in_force(
    gate_on, now, found, passed, deciding
) -> None:
    """Each gate_on value, with and without a baseline: which rules decide and the outcome."""
    verdict = verdict_of(now)
    comparison = compare_now(verdict, main_baseline(MAIN)) if found else None
    decided = decide(verdict, comparison, gate_on)
    assert decided.gate_passed is passed
    assert decided.outcome == (Outcome.PASSED if passed else Outcome.FAILED)
    assert [r.name for r in decided.rules if r.decides] == deciding
    assert len(decided.rules) == len(verdict.rules) + (1 if found else 0)
    assert (decided.comparison is not None) is found


def test_headline_when_a_regression_decides_names_the_baseline() -> None:
    """ "❌ 1 scenario regressed against main (result 812, abc1234, 2 days old)"."""
    verdict = verdict_of(REGRESSED)
    decided = decide(verdict, compare_now(verdict, main_baseline(MAIN)), "auto")
    assert decided.headline == "1 scenario regressed against main (result 812, abc1234, 2 days old)"
    assert decided.decided_by.startswith(
        "1 scenario regressed against main: Scenario 103 (3/3 → 0/3 passed, p = 0.05)"
    )


def test_headline_when_nothing_regressed_says_so_and_the_thresholds_stay_shown() -> None:
    verdict = verdict_of(UNCHANGED)
    decided = decide(verdict, compare_now(verdict, main_baseline(MAIN)), "auto")
    assert decided.headline.startswith("no scenario regressed against main (result 812")
    shown = next(r for r in decided.rules if r.name.startswith("pass rate"))
    assert not shown.passed and not shown.decides and not thresholds_decide(decided)


def test_headline_when_both_fail_names_both_rules() -> None:
    verdict = verdict_of(REGRESSED, threshold=90)
    decided = decide(verdict, compare_now(verdict, main_baseline(MAIN)), "both")
    assert decided.headline == (
        "1 scenario regressed against main (result 812, abc1234, 2 days old) and "
        "33.33% of runs passed (threshold 90%)"
    )


def test_regression_rule_when_no_run_held_a_conversation_fails() -> None:
    """Only infrastructure failures now: nothing regressed, but nothing was judged either."""
    verdict = verdict_of({101: "eee", 103: "eee"})
    decided = decide(verdict, compare_now(verdict, main_baseline(MAIN)), "regressions")
    assert not decided.gate_passed
    assert "no run of this result held a conversation" in decided.decided_by


def test_decide_when_the_result_was_interrupted_leaves_the_verdict_alone() -> None:
    verdict = judge(
        result(runs_for({101: "p"})), Policy(), interruption=(Outcome.TIMEOUT, "timed out")
    )
    comparison = compare_now(verdict, main_baseline(MAIN))
    assert decide(verdict, comparison, "auto") == verdict


def test_tallies_when_runs_never_connected_judge_the_agent_on_the_rest() -> None:
    """2 passed, 1 infrastructure failure: 2 of 2 judged, as the comparison needs."""
    [tally] = tallies(verdict_of({105: "ppe"}))
    assert (tally.passed, tally.judged) == (2, 2)


def test_compare_when_an_infrastructure_failure_is_all_that_changed_is_no_regression() -> None:
    verdict = verdict_of({101: "ppe"})
    comparison = compare_now(verdict, main_baseline({101: "ppp"}))
    assert [s.classification for s in comparison.scenarios] == ["still_passing"]


def test_strip_states_when_judged_are_each_scenarios_own_state() -> None:
    """The strip shows what the scenarios table shows: one state per scenario (an infrastructure
    failure makes a scenario flaky there, so here too)."""
    verdict = verdict_of({1: "ppp", 2: "pf", 3: "ff", 4: "ee", 5: "ppe"})
    states = {o.scenario_id: o.state for o in outcomes(verdict)}
    assert states == {s.scenario_id: s.state for s in verdict.scenarios}
    assert states == {1: "passed", 2: "flaky", 3: "failed", 4: "failed", 5: "flaky"}


def test_baseline_of_when_made_from_a_verdict_keeps_its_identity_and_tallies() -> None:
    base = verdict_of(MAIN, id=812, created_at="2026-05-30T12:00:00Z")
    made = baseline_of(base, source="result")
    assert made.result_id == 812 and made.created_at == NOW - dt.timedelta(days=2)
    assert made.scenarios == [
        ScenarioTally(scenario_id=104, scenario_name="Scenario 104", passed=0, judged=3),
        ScenarioTally(scenario_id=101, scenario_name="Scenario 101", passed=3, judged=3),
        ScenarioTally(scenario_id=103, scenario_name="Scenario 103", passed=3, judged=3),
    ]


@pytest.mark.parametrize(
    ("branch", "shown"),
    [
        ("main", "main"),
        ("release/1.2", "release/1.2"),
        ("feature_x-y", "feature_x-y"),
        ("_x_", "the baseline"),
        ("**bold**", "the baseline"),
        ("@octocat", "the baseline"),
        ("fix#12", "the baseline"),
        ("gh-12", "the baseline"),
        ("www.evil.example", "the baseline"),
        ("a" * 61, "the baseline"),
        ("", "the baseline"),
        (None, "the baseline"),
    ],
)
def test_plain_branch_when_the_name_could_be_markup_is_not_written_in_the_headline(
    branch, shown
) -> None:
    """The headline is text of ours: a branch name that Markdown or GitHub would read is left out."""
    assert plain_branch(branch) == shown
