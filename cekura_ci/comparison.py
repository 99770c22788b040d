"""Pure: this result's scenarios against a baseline's → regressed, fixed, still failing, still
passing, new, not run (or a drop within noise), each with its evidence.

The agent is judged on the runs that held a conversation: an infrastructure failure is never a
regression of the agent, so it leaves the tallies compared here (the verdict reports it apart).
No I/O: the pipeline finds the baseline and passes it in, with the time to measure its age by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction
from math import comb
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cekura_ci.text import scenario_label
from cekura_ci.thresholds import reaches

Classification = Literal[
    "regressed", "fixed", "still_failing", "within_noise", "new", "not_run", "still_passing"
]
#: The order a reviewer reads them in: what blocks first, what changed next, the steady last.
CLASSIFICATION_ORDER: tuple[Classification, ...] = (
    "regressed",
    "fixed",
    "still_failing",
    "within_noise",
    "new",
    "not_run",
    "still_passing",
)
BaselineSource = Literal["auto", "result", "file"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScenarioKey(_Frozen):
    """Which scenario a row is about: its id (or name when Cekura lost the id), and the
    personality and test profile when several ran. Every per-scenario model starts with these."""

    scenario_id: int | None
    scenario_name: str
    personality_name: str | None = None
    test_profile_name: str | None = None

    @property
    def key(self) -> tuple[object, ...]:
        who = self.scenario_id if self.scenario_id is not None else self.scenario_name
        return (who, self.personality_name, self.test_profile_name)

    @property
    def coarse_key(self) -> tuple[object, ...]:
        return (self.key[0], None, None)

    @property
    def label(self) -> str:
        return scenario_label(self.scenario_name, self.personality_name, self.test_profile_name)


class ScenarioTally(ScenarioKey):
    """One scenario (per personality / test profile where several ran) in one result."""

    passed: int
    #: Runs that held a conversation (total minus infrastructure failures).
    judged: int

    @property
    def shown(self) -> str:
        return f"{self.passed}/{self.judged}"


class Baseline(_Frozen):
    """What the comparison needs of the baseline result, wherever it came from."""

    source: BaselineSource
    result_id: int | None = None
    result_name: str | None = None
    created_at: dt.datetime | None = None
    branch: str | None = None
    commit: str | None = None
    url: str | None = None
    scenarios: list[ScenarioTally] = Field(default_factory=list)


class ScenarioComparison(ScenarioKey):
    classification: Classification
    baseline: ScenarioTally | None = None
    now: ScenarioTally | None = None
    #: One-sided Fisher exact p-value for "the pass rate dropped"; None when it did not drop.
    p_value: float | None = None

    @property
    def evidence(self) -> str:
        """`baseline 3/3 → now 0/3 (p = 0.05)`: counts of runs that held a conversation."""
        before = self.baseline.shown if self.baseline and self.baseline.judged else "–"
        after = self.now.shown if self.now and self.now.judged else "–"
        p = f" (p = {self.p_value:.2g})" if self.p_value is not None else ""
        return f"baseline {before} → now {after}{p}"


class Comparison(_Frozen):
    baseline: Baseline
    scenarios: list[ScenarioComparison]
    regression_max_p: float | None = None
    age_days: float | None = None
    max_age_days: float | None = None
    stale: bool = False

    def having(self, classification: Classification) -> list[ScenarioComparison]:
        return [s for s in self.scenarios if s.classification == classification]

    @property
    def regressed(self) -> list[ScenarioComparison]:
        return self.having("regressed")

    @property
    def fixed(self) -> list[ScenarioComparison]:
        return self.having("fixed")

    def count(self, classification: Classification) -> int:
        return len(self.having(classification))


def p_value_of_drop(passed_before: int, runs_before: int, passed_now: int, runs_now: int) -> float:
    """One-sided Fisher exact test that the pass rate dropped from before to now.

    With the margins fixed, the chance that `before` holds at least the passes it does: 3/3 → 0/3
    gives 0.05 (a collapse), 3/3 → 2/3 gives 0.5 (noise), 1/1 → 0/1 gives 0.5.
    """
    passes = passed_before + passed_now
    runs = runs_before + runs_now
    total = comb(runs, runs_before)
    tail = sum(
        comb(passes, k) * comb(runs - passes, runs_before - k)
        for k in range(passed_before, min(passes, runs_before) + 1)
    )
    return float(Fraction(tail, total))


def meets_bar(tally: ScenarioTally, scenario_pass_threshold: float | None) -> bool | None:
    """The scenario's bar: its threshold when set, otherwise every run passed; None if no run
    held a conversation (nothing to judge the agent on)."""
    if tally.judged == 0:
        return None
    if scenario_pass_threshold is None:
        return tally.passed == tally.judged
    return reaches(tally.passed, tally.judged, scenario_pass_threshold)


def _classify(
    before: ScenarioTally | None,
    now: ScenarioTally | None,
    scenario_pass_threshold: float | None,
    regression_max_p: float | None,
) -> tuple[Classification, float | None]:
    met_before = meets_bar(before, scenario_pass_threshold) if before else None
    met_now = meets_bar(now, scenario_pass_threshold) if now else None
    if met_now is None:
        return "not_run", None
    if met_before is None or before is None or now is None:
        return "new", None
    dropped = now.passed * before.judged < before.passed * now.judged
    p = p_value_of_drop(before.passed, before.judged, now.passed, now.judged) if dropped else None
    if met_before and not met_now:
        significant = regression_max_p is None or (p is not None and p <= regression_max_p)
        return ("regressed" if significant else "within_noise"), p
    if not met_before and met_now:
        return "fixed", p
    return ("still_passing" if met_now else "still_failing"), p


def compare(
    now: Iterable[ScenarioTally],
    baseline: Baseline,
    *,
    scenario_pass_threshold: float | None = None,
    regression_max_p: float | None = None,
    as_of: dt.datetime | None = None,
    max_age_days: float | None = None,
) -> Comparison:
    """Match each scenario of this result with the baseline's and classify it.

    Scenarios match on id (or name when Cekura lost the id) plus personality and test profile;
    one that is split by personality now but was not in the baseline matches the baseline's
    whole scenario.
    """
    before = {tally.key: tally for tally in baseline.scenarios}
    matched: set[tuple[object, ...]] = set()
    rows = []
    for tally in now:
        key = tally.key if tally.key in before else tally.coarse_key
        base = before.get(key)
        if base is not None:
            matched.add(key)
        classification, p = _classify(base, tally, scenario_pass_threshold, regression_max_p)
        rows.append(_row(tally, classification, base, tally, p))
    for key, base in before.items():
        if key not in matched:
            rows.append(_row(base, "not_run", base, None, None))
    rows.sort(key=lambda r: (CLASSIFICATION_ORDER.index(r.classification), r.label.lower()))
    age = None
    if as_of is not None and baseline.created_at is not None:
        age = max(0.0, (as_of - baseline.created_at).total_seconds() / 86400)
    return Comparison(
        baseline=baseline,
        scenarios=rows,
        regression_max_p=regression_max_p,
        age_days=age,
        max_age_days=max_age_days,
        stale=age is not None and max_age_days is not None and age > max_age_days,
    )


def _row(
    who: ScenarioTally,
    classification: Classification,
    before: ScenarioTally | None,
    now: ScenarioTally | None,
    p: float | None,
) -> ScenarioComparison:
    return ScenarioComparison(
        scenario_id=who.scenario_id,
        scenario_name=who.scenario_name,
        personality_name=who.personality_name,
        test_profile_name=who.test_profile_name,
        classification=classification,
        baseline=before,
        now=now,
        p_value=p,
    )
