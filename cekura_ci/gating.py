"""Pure: the verdict with its comparison and history. Which rules decide the gate (`gate_on`), the
regression rule and its headline, and a verdict seen as tallies (for the comparison) or as
outcomes (for the history strip).

No I/O: the pipeline finds the baseline and the earlier results, judges them with the same policy,
and hands the verdicts in.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from cekura_ci.comparison import (
    Baseline,
    Comparison,
    ScenarioComparison,
    ScenarioKey,
    ScenarioTally,
    compare,
)
from cekura_ci.errors import Outcome
from cekura_ci.text import one_line
from cekura_ci.trend import HistoryPoint, ScenarioOutcome, StripState
from cekura_ci.verdict import RULE_LABEL_LIMIT, Rule, ScenarioVerdict, Verdict

GateOn = Literal["auto", "threshold", "regressions", "both"]
#: The start of the regression rule's name (the rest names the branch).
REGRESSION_RULE = "no regression against"
#: How many regressed scenarios a rule's detail names (the rest are counted).
LISTED = 5

# A branch name shown as it is in text we write (the headline): segments of letters and digits
# joined by single `.`, `_`, `/` or `-`, so nothing in it is Markdown, a mention or a link.
_PLAIN_BRANCH = re.compile(r"[A-Za-z0-9]+(?:[._/-][A-Za-z0-9]+)*")
_LINKABLE = re.compile(r"(?i)(?:\bgh-\d|www\.|://)")


def plain_branch(branch: str | None) -> str:
    """The branch for a headline of ours, or "the baseline" when its name is not plain text."""
    if (
        branch
        and len(branch) <= 60
        and _PLAIN_BRANCH.fullmatch(branch)
        and not _LINKABLE.search(branch)
    ):
        return branch
    return "the baseline"


# --- a verdict as the comparison and the history see it --------------------------------------


def key_of(scenario: ScenarioVerdict | ScenarioComparison) -> tuple[object, ...]:
    """What matches a scenario of the verdict with its row in the comparison."""
    return (scenario.scenario_id, scenario.personality_name, scenario.test_profile_name)


def judged_runs(scenario: ScenarioVerdict) -> int:
    """Runs that held a conversation: the agent is judged on these alone."""
    return scenario.total - scenario.infra_failures - scenario.unfinished


def _who(scenario: ScenarioVerdict) -> dict[str, object]:
    """The scenario's key fields, to carry into a comparison or a history row."""
    return {name: getattr(scenario, name) for name in ScenarioKey.model_fields}


def tallies(verdict: Verdict) -> list[ScenarioTally]:
    return [
        ScenarioTally(**_who(s), passed=s.passed, judged=judged_runs(s)) for s in verdict.scenarios
    ]


def strip_state(scenario: ScenarioVerdict) -> StripState:
    """The scenario's own state, as its row in the scenarios table shows it: one state."""
    return "not_run" if scenario.state == "unfinished" else scenario.state


def outcomes(verdict: Verdict) -> list[ScenarioOutcome]:
    return [ScenarioOutcome(**_who(s), state=strip_state(s)) for s in verdict.scenarios]


def parse_time(text: str | None) -> dt.datetime | None:
    """Cekura's ISO 8601 time (`…Z` or with an offset) in UTC; None when unreadable."""
    try:
        moment = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def point(verdict: Verdict, *, commit: str | None = None, now: bool = False) -> HistoryPoint:
    return HistoryPoint(
        result_id=verdict.result_id,
        created_at=parse_time(verdict.result_created_at),
        commit=commit,
        pass_rate=verdict.pass_rate if verdict.counted_runs else None,
        now=now,
    )


def baseline_of(
    verdict: Verdict,
    *,
    source: Literal["auto", "result", "file"],
    branch: str | None = None,
    commit: str | None = None,
    url: str | None = None,
) -> Baseline:
    """The baseline a judged earlier result makes."""
    return Baseline(
        source=source,
        result_id=verdict.result_id,
        result_name=verdict.result_name,
        created_at=parse_time(verdict.result_created_at),
        branch=branch,
        commit=commit,
        url=url,
        scenarios=tallies(verdict),
    )


def compared(
    verdict: Verdict,
    baseline: Baseline,
    *,
    regression_max_p: float | None,
    as_of: dt.datetime,
    max_age_days: float,
) -> Comparison:
    return compare(
        tallies(verdict),
        baseline,
        scenario_pass_threshold=verdict.scenario_pass_threshold,
        regression_max_p=regression_max_p,
        as_of=as_of,
        max_age_days=max_age_days,
    )


# --- the gate -------------------------------------------------------------------------------


def age_text(days: float | None) -> str:
    """`5 hours old`, `1 day old`, `12 days old`."""
    if days is None:
        return "age unknown"
    hours = round(days * 24)
    if hours < 1:
        return "less than an hour old"
    if hours < 24:
        return f"{hours} hour{'s' if hours != 1 else ''} old"
    whole = max(1, round(days))
    return f"{whole} day{'s' if whole != 1 else ''} old"


def baseline_ref(comparison: Comparison) -> str:
    """`result 812, abc1234, 2 days old`: which baseline, in words of ours."""
    base = comparison.baseline
    parts = [f"result {base.result_id}" if base.result_id is not None else "a report file"]
    if base.commit and re.fullmatch(r"[0-9a-f]{7,40}", base.commit):
        parts.append(base.commit[:7])
    parts.append(age_text(comparison.age_days))
    return ", ".join(parts)


def regression_rule(comparison: Comparison) -> Rule:
    """Passed when no scenario regressed against the baseline; failed too when nothing this
    result ran could be compared (no run held a conversation)."""
    against = plain_branch(comparison.baseline.branch)
    ref = baseline_ref(comparison)
    name = f"{REGRESSION_RULE} {comparison.baseline.branch or 'the baseline'}"
    regressed = comparison.regressed
    compared_now = [s for s in comparison.scenarios if s.now is not None and s.now.judged]
    if not compared_now:
        why = f"nothing to compare with {against}: no run of this result held a conversation"
        return Rule(name=name, passed=False, detail=why, summary=why)
    if not regressed:
        judged = len(compared_now)
        return Rule(
            name=name,
            passed=True,
            detail=f"none of {judged} scenario{'s' if judged != 1 else ''} regressed against "
            f"{against}",
            summary=f"no scenario regressed against {against} ({ref})",
        )
    listed = ", ".join(
        f"{one_line(s.label, RULE_LABEL_LIMIT)} ({change(s)})" for s in regressed[:LISTED]
    )
    more = f" and {len(regressed) - LISTED} more" if len(regressed) > LISTED else ""
    many = len(regressed) != 1
    return Rule(
        name=name,
        passed=False,
        detail=f"{len(regressed)} scenario{'s' if many else ''} regressed against {against}: "
        f"{listed}{more}",
        summary=f"{len(regressed)} scenario{'s' if many else ''} regressed against {against} "
        f"({ref})",
    )


def change(row: ScenarioComparison) -> str:
    """`3/3 → 0/3 passed, p = 0.05`: runs that held a conversation, before and now."""
    before = row.baseline.shown if row.baseline else "–"
    now = row.now.shown if row.now else "–"
    p = f", p = {row.p_value:.2g}" if row.p_value is not None else ""
    return f"{before} → {now} passed{p}"


def thresholds_decide(verdict: Verdict) -> bool:
    """Whether the pass thresholds decide the gate (not when only regressions do)."""
    return any(r.decides for r in verdict.rules if not r.name.startswith(REGRESSION_RULE))


def rule_in_force(gate_on: GateOn, comparison: Comparison | None) -> str:
    """`threshold`, `regressions` or `both`: without a baseline, the thresholds alone."""
    if comparison is None:
        return "threshold"
    return "regressions" if gate_on == "auto" else gate_on


def decide(verdict: Verdict, comparison: Comparison | None, gate_on: GateOn) -> Verdict:
    """The verdict with its comparison attached and the rules `gate_on` puts in force deciding.

    Every rule is still computed and shown; those not in force do not decide. An interrupted
    result (timeout, cancellation, outage) is left as it is: it has no verdict to compare."""
    if verdict.interrupted:
        return verdict
    mode = rule_in_force(gate_on, comparison)
    thresholds = [
        rule.model_copy(update={"decides": mode in ("threshold", "both")}) for rule in verdict.rules
    ]
    rules = thresholds
    if comparison is not None:
        regression = regression_rule(comparison).model_copy(
            update={"decides": mode in ("regressions", "both")}
        )
        rules = [regression, *thresholds] if regression.decides else [*thresholds, regression]
    deciding = [rule for rule in rules if rule.decides]
    gate_passed = all(rule.passed for rule in deciding)
    failed = [rule for rule in deciding if not rule.passed]
    return verdict.model_copy(
        update={
            "rules": rules,
            "comparison": comparison,
            "gate_passed": gate_passed,
            "outcome": Outcome.PASSED if gate_passed else Outcome.FAILED,
            "decided_by": "; ".join(rule.detail for rule in failed or deciding),
        }
    )
