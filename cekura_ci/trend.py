"""Pure: each scenario's outcome over the last results of a branch, and the pass-rate trend.

"Since when does this fail?" at a glance: per scenario a strip of outcomes, oldest → newest, the
last one this result's. No I/O: the pipeline fetches the earlier results and judges them; this
module only lines their scenarios up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cekura_ci.comparison import ScenarioKey

#: A scenario's state in one result, as its row in that result's scenarios table shows it; not_run:
#: absent from that result, or none of its runs had finished.
StripState = Literal["passed", "flaky", "failed", "not_run"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScenarioOutcome(ScenarioKey):
    """One scenario (per personality / test profile where several ran) in one result."""

    state: StripState


class HistoryPoint(_Frozen):
    """One result of the branch: when, which commit, how many runs passed."""

    result_id: int | None
    created_at: dt.datetime | None = None
    commit: str | None = None
    #: Percent of counted runs that passed; None when no run counted.
    pass_rate: float | None = None
    #: True for the result this step judged (the last point).
    now: bool = False


class ScenarioStrip(ScenarioKey):
    #: One state per point of the history, oldest → newest; the last is this result's.
    states: list[StripState]


class History(_Frozen):
    branch: str
    #: Oldest → newest; the last is this result.
    points: list[HistoryPoint]
    scenarios: list[ScenarioStrip] = Field(default_factory=list)
    #: How many earlier results were asked for (the `history` input).
    requested: int = 0


def _combined(states: list[StripState]) -> StripState:
    """A scenario run per personality in one result and as a whole in another: one state."""
    judged = [s for s in states if s != "not_run"]
    if not judged:
        return "not_run"
    if all(s == "passed" for s in judged):
        return "passed"
    if all(s == "failed" for s in judged):
        return "failed"
    return "flaky"


def _state_in(
    outcomes: dict[tuple[object, ...], StripState], key: tuple[object, ...]
) -> StripState:
    """The scenario's state in one result: the same split, else the whole scenario, else its
    parts combined."""
    if key in outcomes:
        return outcomes[key]
    coarse = (key[0], None, None)
    if coarse in outcomes:
        return outcomes[coarse]
    return _combined([state for k, state in outcomes.items() if k[0] == key[0]])


def build_history(
    branch: str,
    snapshots: Sequence[tuple[HistoryPoint, Sequence[ScenarioOutcome]]],
    *,
    requested: int = 0,
) -> History:
    """Line up the scenarios of each result (oldest → newest, this result last).

    Rows follow this result's scenarios in its order; scenarios seen only earlier come after them,
    by label, so one that stopped being run shows where it was last seen.
    """
    by_point = [{o.key: o.state for o in outcomes} for _point, outcomes in snapshots]
    rows: dict[tuple[object, ...], ScenarioOutcome] = {}
    if snapshots:
        for outcome in snapshots[-1][1]:
            rows.setdefault(outcome.key, outcome)
    shown = {key[0] for key in rows}
    earlier: dict[tuple[object, ...], ScenarioOutcome] = {}
    for _point, outcomes in snapshots[:-1]:
        for outcome in outcomes:
            if outcome.key[0] not in shown:  # run now too (maybe split otherwise): one row
                earlier.setdefault(outcome.key, outcome)
    ordered = list(rows.values()) + sorted(earlier.values(), key=lambda o: o.label.lower())
    strips = [
        ScenarioStrip(
            scenario_id=o.scenario_id,
            scenario_name=o.scenario_name,
            personality_name=o.personality_name,
            test_profile_name=o.test_profile_name,
            states=[_state_in(outcomes, o.key) for outcomes in by_point],
        )
        for o in ordered
    ]
    return History(
        branch=branch,
        points=[point for point, _outcomes in snapshots],
        scenarios=strips,
        requested=requested,
    )
