"""The history strip: each scenario lined up over the results, oldest → newest, this one last."""

from __future__ import annotations

from cekura_ci.trend import HistoryPoint, ScenarioOutcome, build_history


def outcome(scenario: int, state: str, **extra: str) -> ScenarioOutcome:
    return ScenarioOutcome(
        scenario_id=scenario, scenario_name=f"Scenario {scenario}", state=state, **extra
    )


def snapshot(result_id: int, *outcomes: ScenarioOutcome, now: bool = False):
    return (HistoryPoint(result_id=result_id, pass_rate=50.0, now=now), list(outcomes))


def strips(history) -> dict[str, list[str]]:
    return {s.label: s.states for s in history.scenarios}


def test_history_when_built_lines_scenarios_up_oldest_first_this_result_last() -> None:
    """A scenario missing from a result is not run there; one seen only earlier comes last."""
    history = build_history(
        "main",
        [
            snapshot(1, outcome(101, "passed"), outcome(102, "passed"), outcome(109, "failed")),
            snapshot(2, outcome(101, "passed"), outcome(102, "flaky")),
            snapshot(3, outcome(102, "failed"), outcome(101, "passed"), now=True),
        ],
        requested=5,
    )
    assert [p.result_id for p in history.points] == [1, 2, 3] and history.points[-1].now
    assert strips(history) == {
        "Scenario 102": ["passed", "flaky", "failed"],
        "Scenario 101": ["passed", "passed", "passed"],
        "Scenario 109": ["failed", "not_run", "not_run"],
    }
    assert [s.scenario_id for s in history.scenarios] == [102, 101, 109]


def test_history_when_a_scenario_is_split_by_personality_now_matches_the_whole_earlier() -> None:
    history = build_history(
        "main",
        [
            snapshot(1, outcome(101, "passed")),
            snapshot(
                2,
                outcome(101, "passed", personality_name="Calm"),
                outcome(101, "failed", personality_name="Angry"),
                now=True,
            ),
        ],
    )
    assert strips(history) == {
        "Scenario 101 (Calm)": ["passed", "passed"],
        "Scenario 101 (Angry)": ["passed", "failed"],
    }


def test_history_when_split_earlier_but_whole_now_combines_the_parts() -> None:
    """Passed with one personality and failed with the other is flaky as a whole."""
    history = build_history(
        "main",
        [
            snapshot(
                1,
                outcome(101, "passed", personality_name="Calm"),
                outcome(101, "failed", personality_name="Angry"),
            ),
            snapshot(2, outcome(101, "passed"), now=True),
        ],
    )
    assert strips(history) == {"Scenario 101": ["flaky", "passed"]}
