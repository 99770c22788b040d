"""The comparison with a baseline: each classification, its evidence, the p-value at the edges."""

from __future__ import annotations

import datetime as dt

import pytest

from cekura_ci.comparison import Baseline, ScenarioTally, compare, meets_bar, p_value_of_drop


def tally(scenario: int, passed: int, judged: int, **extra: str) -> ScenarioTally:
    return ScenarioTally(
        scenario_id=scenario,
        scenario_name=f"Scenario {scenario}",
        passed=passed,
        judged=judged,
        **extra,
    )


def baseline(*tallies: ScenarioTally, **extra: object) -> Baseline:
    return Baseline(source="result", result_id=812, scenarios=list(tallies), **extra)


def classes(comparison) -> dict[object, str]:
    return {row.scenario_id: row.classification for row in comparison.scenarios}


def test_compare_when_each_case_occurs_classifies_it() -> None:
    """Met its bar before and not now: regressed; the reverse: fixed; and so on."""
    before = baseline(
        tally(1, 3, 3), tally(2, 0, 3), tally(3, 1, 3), tally(4, 3, 3), tally(6, 2, 2)
    )
    now = [tally(1, 1, 3), tally(2, 3, 3), tally(3, 0, 3), tally(4, 3, 3), tally(5, 2, 2)]
    assert classes(compare(now, before)) == {
        1: "regressed",
        2: "fixed",
        3: "still_failing",
        4: "still_passing",
        5: "new",
        6: "not_run",
    }


def test_compare_when_sorted_reads_regressions_first() -> None:
    """Regressed, fixed, still failing, within noise, new, not run, still passing."""
    before = baseline(tally(1, 3, 3), tally(2, 0, 3), tally(6, 2, 2), tally(4, 3, 3))
    now = [tally(4, 3, 3), tally(5, 2, 2), tally(2, 3, 3), tally(1, 0, 3)]
    order = [row.classification for row in compare(now, before).scenarios]
    assert order == ["regressed", "fixed", "new", "not_run", "still_passing"]


def test_bar_when_a_scenario_threshold_is_set_uses_it_otherwise_every_run() -> None:
    """2/3 meets a 66% bar but not the default one; no conversation means nothing to judge."""
    assert meets_bar(tally(1, 2, 3), 66) is True
    assert meets_bar(tally(1, 2, 3), None) is False
    assert meets_bar(tally(1, 2, 3), 66.67) is False  # exact, as the thresholds are
    assert meets_bar(tally(1, 0, 0), None) is None


def test_compare_when_the_threshold_allows_a_flaky_run_is_still_passing() -> None:
    """3/3 → 2/3 is no regression when the bar is 66%."""
    now = compare([tally(1, 2, 3)], baseline(tally(1, 3, 3)), scenario_pass_threshold=66)
    assert classes(now) == {1: "still_passing"}


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ((1, 1), (0, 1), 0.5),  # n = 1: one run cannot prove anything
        ((3, 3), (0, 3), 0.05),  # n = 3: a collapse
        ((3, 3), (2, 3), 0.5),  # n = 3: noise
        ((10, 10), (0, 10), 1 / 184756),  # n = 10: beyond doubt
        ((10, 10), (7, 10), 0.10526315789473684),
        ((9, 10), (9, 10), 0.7631578947368421),
    ],
)
def test_p_value_when_computed_is_the_one_sided_fisher_exact_test(before, now, expected) -> None:
    assert p_value_of_drop(*before, *now) == pytest.approx(expected, rel=1e-12)


def test_evidence_when_shown_gives_both_counts_and_the_p_value() -> None:
    [row] = compare([tally(1, 0, 3)], baseline(tally(1, 3, 3))).scenarios
    assert row.evidence == "baseline 3/3 → now 0/3 (p = 0.05)"


def test_compare_when_regression_max_p_is_set_keeps_noise_out_of_regressions() -> None:
    """At max p 0.1, 3/3 → 0/3 (p 0.05) regressed; 3/3 → 2/3 (p 0.5) is within noise."""
    before = baseline(tally(1, 3, 3), tally(2, 3, 3))
    result = compare([tally(1, 0, 3), tally(2, 2, 3)], before, regression_max_p=0.1)
    assert classes(result) == {1: "regressed", 2: "within_noise"}
    assert [r.scenario_id for r in result.regressed] == [1]


def test_compare_when_only_infrastructure_failed_now_is_not_a_regression() -> None:
    """Three runs that never connected: no conversation to judge, so not run, never regressed."""
    result = compare([tally(1, 0, 0)], baseline(tally(1, 3, 3)))
    assert classes(result) == {1: "not_run"} and result.regressed == []


def test_compare_when_the_baseline_never_held_a_conversation_calls_it_new() -> None:
    assert classes(compare([tally(1, 0, 3)], baseline(tally(1, 0, 0)))) == {1: "new"}


def test_compare_when_personalities_split_now_matches_the_baseline_scenario() -> None:
    """A scenario now run per personality is compared with the whole scenario of the baseline."""
    now = [tally(1, 3, 3, personality_name="Calm"), tally(1, 0, 3, personality_name="Angry")]
    result = compare(now, baseline(tally(1, 6, 6)))
    assert {r.label: r.classification for r in result.scenarios} == {
        "Scenario 1 (Calm)": "still_passing",
        "Scenario 1 (Angry)": "regressed",
    }


def test_compare_when_personalities_match_compares_each_with_its_own() -> None:
    before = baseline(
        tally(1, 3, 3, personality_name="Calm"), tally(1, 0, 3, personality_name="Angry")
    )
    now = [tally(1, 0, 3, personality_name="Calm"), tally(1, 0, 3, personality_name="Angry")]
    assert {r.label: r.classification for r in compare(now, before).scenarios} == {
        "Scenario 1 (Calm)": "regressed",
        "Scenario 1 (Angry)": "still_failing",
    }


def test_compare_when_the_baseline_is_older_than_allowed_says_it_is_stale() -> None:
    created = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    old = baseline(tally(1, 3, 3), created_at=created)
    as_of = created + dt.timedelta(days=15)
    result = compare([tally(1, 3, 3)], old, as_of=as_of, max_age_days=14)
    assert result.stale and result.age_days == pytest.approx(15)
    assert not compare([tally(1, 3, 3)], old, as_of=as_of, max_age_days=30).stale
