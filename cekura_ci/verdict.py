"""Pure: a Cekura result and a policy → the verdict, per run, per scenario and in total, with why.

No I/O here. Every report (summary, console, JUnit, JSON, annotations, outputs) is rendered from
the Verdict this module returns, so they can never disagree.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cekura_ci.collector import paused
from cekura_ci.comparison import Comparison, ScenarioKey
from cekura_ci.errors import Outcome
from cekura_ci.models import TERMINAL_STATUSES, Metric, Result, Run
from cekura_ci.text import one_line
from cekura_ci.thresholds import reaches
from cekura_ci.trend import History

SCHEMA_VERSION = 1

#: `unfinished`: the run was not in a terminal status when we stopped waiting for a result that had
#: not ended either (timeout, cancellation, outage). It is neither passed nor failed: not judged.
#: A run still going when the result itself had ended is an infrastructure failure.
RunKind = Literal["passed", "agent_failure", "infra_failure", "unfinished"]
#: `unfinished`: none of the scenario's runs had finished; otherwise the state of the finished runs.
ScenarioState = Literal["passed", "failed", "flaky", "unfinished"]
#: How much of a scenario label a rule's detail repeats (the summary and the JSON stay bounded).
RULE_LABEL_LIMIT = 120


@dataclass(frozen=True)
class Policy:
    pass_threshold: float = 100.0
    scenario_pass_threshold: float | None = None
    infra_failures: Literal["fail", "ignore"] = "fail"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FailedMetric(_Frozen):
    name: str
    score: float | None = None
    explanation: list[str] = Field(default_factory=list)


class Turn(_Frozen):
    role: str
    content: str


class RunVerdict(_Frozen):
    run_id: int
    scenario_id: int | None
    scenario_name: str
    repetition: int
    personality_name: str | None = None
    test_profile_name: str | None = None
    status: str
    success: bool | None
    kind: RunKind
    reason: str
    error_message: str | None = None
    failed_metrics: list[FailedMetric] = Field(default_factory=list)
    failed_expectations: list[str] = Field(default_factory=list)
    duration: str | None = None
    transcript_tail: list[Turn] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.kind == "passed"


_validate_run_verdict = RunVerdict.model_validate


class ScenarioVerdict(ScenarioKey):
    state: ScenarioState
    total: int
    passed: int
    infra_failures: int
    unfinished: int = 0
    pass_rate: float
    meets_threshold: bool | None = None
    main_reason: str | None = None
    runs: list[RunVerdict]


class MetricSummary(_Frozen):
    name: str
    type: str
    runs: int
    failed: int | None = None
    p50: float | None = None


class Rule(_Frozen):
    name: str
    passed: bool
    detail: str
    #: The rule's outcome in a few words for a headline, e.g. "88.89% of runs passed (threshold 90%)".
    summary: str = ""
    #: False for a rule that is shown but does not decide the gate (see the `gate_on` input).
    decides: bool = True


class Verdict(_Frozen):
    schema_version: int = SCHEMA_VERSION
    result_id: int | None
    result_name: str | None = None
    status: str
    outcome: Outcome
    gate_passed: bool
    total_runs: int
    passed_runs: int
    failed_runs: int
    agent_failures: int
    infra_failures: int
    unfinished_runs: int = 0
    counted_runs: int
    pass_rate: float
    pass_threshold: float
    scenario_pass_threshold: float | None
    infra_failures_policy: str
    decided_by: str
    rules: list[Rule]
    scenarios: list[ScenarioVerdict]
    metrics: list[MetricSummary]
    duration: str | None = None
    result_url: str | None = None
    notes: list[str] = Field(default_factory=list)
    #: When Cekura created the result (as it says), so that a later run can tell its age.
    result_created_at: str | None = None
    #: This result against its baseline (the `baseline` input); None when there was none.
    comparison: Comparison | None = None
    #: What became of looking for the baseline, when it needs saying (plain text, from the API too).
    baseline_notes: list[str] = Field(default_factory=list)
    #: Each scenario over the last results of the branch (the `history` input).
    history: History | None = None
    history_notes: list[str] = Field(default_factory=list)
    #: Calls the step's run request placed (None when it waited for an existing result).
    calls_placed: int | None = None

    @property
    def failed_scenarios(self) -> list[ScenarioVerdict]:
        return [s for s in self.scenarios if s.state == "failed"]

    @property
    def flaky_scenarios(self) -> list[ScenarioVerdict]:
        return [s for s in self.scenarios if s.state == "flaky"]

    @property
    def failed_run_verdicts(self) -> list[RunVerdict]:
        return [r for s in self.scenarios for r in s.runs if r.kind in FAILED_KINDS]

    @property
    def unfinished_run_verdicts(self) -> list[RunVerdict]:
        return [r for s in self.scenarios for r in s.runs if r.kind == "unfinished"]

    @property
    def interrupted(self) -> bool:
        """The wait ended before the result did (timeout, cancellation, outage, refusal)."""
        return self.outcome not in (Outcome.PASSED, Outcome.FAILED)

    @property
    def finished_runs(self) -> int:
        return self.total_runs - self.unfinished_runs

    @property
    def headline(self) -> str:
        """What decided, in a few words of ours (never API text): the rule(s) that failed, every
        rule when the gate passed, or how far an interrupted result had got."""
        if self.interrupted:
            if not self.total_runs:
                return "no runs had been seen"
            return (
                f"{self.finished_runs} of {self.total_runs} runs had finished "
                f"({self.passed_runs} passed, {self.failed_runs} failed)"
            )
        deciding = [rule for rule in self.rules if rule.decides]
        failed = [rule for rule in deciding if not rule.passed]
        return " and ".join(rule.summary for rule in failed or deciding)


FAILED_KINDS = ("agent_failure", "infra_failure")


# --- runs ----------------------------------------------------------------------------------


def _is_binary(kind: str) -> bool:
    """`binary` and the legacy `binary_*` types (`binary_workflow_adherence`, …) pass or fail."""
    return kind.startswith("binary")


def _is_binary_failure(metric: Metric) -> bool:
    if not _is_binary((metric.type or "").lower()):
        return False
    if metric.score is not None:
        return metric.score == 0
    return (metric.value or "").strip().lower() in ("false", "no", "0", "fail")


def _failed_expectations(run: Run) -> list[str]:
    lines = run.expected_outcome_lines
    return [line.removeprefix("❌").strip() for line in lines if line.lstrip().startswith("❌")]


def _transcript_tail(run: Run) -> list[dict[str, str]]:
    """The end of the call, as the run keeps it (only for runs that did not pass)."""
    return [{"role": t.role, "content": t.content} for t in run.transcript_tail]


def _kind(run: Run, infra_ids: set[int], result_ended: bool) -> RunKind:
    if run.passed:
        return "passed"
    if run.status not in TERMINAL_STATUSES and not result_ended:
        return "unfinished"
    if run.id in infra_ids or run.status not in TERMINAL_STATUSES:
        return "infra_failure"
    if run.error_message and not run.has_conversation:
        return "infra_failure"
    if run.status != "completed" and not run.has_conversation:
        return "infra_failure"
    return "agent_failure"


def _reason(run: Run, kind: RunKind, metrics: list[dict[str, Any]], expectations: list[str]) -> str:
    if kind == "passed":
        return "passed"
    if kind == "unfinished":
        return f"not finished (still {run.status})"
    if run.status not in TERMINAL_STATUSES:
        return f"did not finish (still {run.status} when the result ended)"
    if run.error_message and run.error_message.strip():
        return run.error_message.strip().splitlines()[0]
    if metrics:
        return f"failed metric: {metrics[0]['name']}"
    if expectations:
        return expectations[0]
    if kind == "infra_failure":
        return f"never connected (status {run.status})"
    return f"not successful (status {run.status})"


def _scenario_name(run: Run) -> str:
    name = (run.scenario_name or "").strip()
    if name:
        return name
    # Cekura's own default for a run whose scenario is gone.
    return f"Scenario {run.scenario}" if run.scenario is not None else "Scenario Deleted"


def judge_run(
    run: Run, repetition: int, infra_ids: set[int], result_ended: bool = True
) -> RunVerdict:
    # One validation from plain values: pydantic-core builds the nested models faster than
    # model_construct does in Python (10,000 runs a step).
    kind = _kind(run, infra_ids, result_ended)
    metrics = [
        {"name": m.name or f"metric {m.id}", "score": m.score, "explanation": m.explanation}
        for m in run.metrics
        if _is_binary_failure(m)
    ]
    expectations = _failed_expectations(run)
    return _validate_run_verdict(
        {
            "run_id": run.id,
            "scenario_id": run.scenario,
            "scenario_name": _scenario_name(run),
            "repetition": repetition,
            "personality_name": run.personality_name,
            "test_profile_name": run.test_profile_name,
            "status": run.status,
            "success": run.success,
            "kind": kind,
            "reason": _reason(run, kind, metrics, expectations),
            "error_message": run.error_message,
            "failed_metrics": metrics,
            "failed_expectations": expectations,
            "duration": run.duration,
            "transcript_tail": _transcript_tail(run),
        }
    )


# --- scenarios, metrics, totals ---------------------------------------------------------------


@dataclass(frozen=True)
class _Tally:
    """Passed, infrastructure failures, unfinished runs, runs counted under the policy, the rate.

    Unfinished runs are not judged, so not counted: the rate of an interrupted result is the rate
    of the runs that had finished."""

    passed: int
    infra: int
    unfinished: int
    counted: int
    rate: float

    @classmethod
    def of(cls, verdicts: list[RunVerdict], policy: Policy) -> _Tally:
        passed = sum(r.passed for r in verdicts)
        infra = sum(r.kind == "infra_failure" for r in verdicts)
        unfinished = sum(r.kind == "unfinished" for r in verdicts)
        counted = len(verdicts) - unfinished - (infra if policy.infra_failures == "ignore" else 0)
        rate = 100.0 * passed / counted if counted else 0.0
        return cls(passed, infra, unfinished, counted, rate)


def _group_key(run: Run, by_personality: bool, by_profile: bool) -> tuple[object, ...]:
    return (
        run.scenario,
        run.personality_name if by_personality else None,
        run.test_profile_name if by_profile else None,
    )


def _scenario(
    runs: list[Run],
    infra_ids: set[int],
    policy: Policy,
    split: tuple[bool, bool],
    result_ended: bool,
) -> ScenarioVerdict:
    verdicts = [
        judge_run(run, i, infra_ids, result_ended)
        for i, run in enumerate(sorted(runs, key=lambda r: r.id), 1)
    ]
    tally = _Tally.of(verdicts, policy)
    passed, infra, counted, rate = tally.passed, tally.infra, tally.counted, tally.rate
    finished = len(verdicts) - tally.unfinished
    meets_threshold = (
        None
        if policy.scenario_pass_threshold is None or not finished
        else reaches(passed, counted, policy.scenario_pass_threshold)
    )
    state: ScenarioState = (
        "unfinished"
        if not finished
        else "passed"
        if passed == finished
        else "failed"
        if passed == 0 or meets_threshold is False
        else "flaky"
    )
    reasons = Counter(r.reason for r in verdicts if r.kind in FAILED_KINDS)
    first = verdicts[0]
    return ScenarioVerdict(
        scenario_id=first.scenario_id,
        scenario_name=first.scenario_name,
        personality_name=first.personality_name if split[0] else None,
        test_profile_name=first.test_profile_name if split[1] else None,
        state=state,
        total=len(verdicts),
        passed=passed,
        infra_failures=infra,
        unfinished=tally.unfinished,
        pass_rate=rate,
        meets_threshold=meets_threshold,
        main_reason=reasons.most_common(1)[0][0] if reasons else None,
        runs=verdicts,
    )


def _metrics(runs: list[Run]) -> list[MetricSummary]:
    scores: dict[str, list[float]] = defaultdict(list)
    failures: Counter[str] = Counter()
    types: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for run in runs:
        for metric in run.metrics:
            name = (metric.name or f"metric {metric.id}").strip()
            kind = (metric.type or "unknown").lower()
            types.setdefault(name, kind)
            counts[name] += 1
            if _is_binary(kind):
                failures[name] += _is_binary_failure(metric)
            elif metric.score is not None:
                scores[name].append(metric.score)
    summaries = [
        MetricSummary(
            name=name,
            type=types[name],
            runs=counts[name],
            failed=failures[name] if _is_binary(types[name]) else None,
            p50=statistics.median(scores[name]) if scores.get(name) else None,
        )
        for name in types
    ]
    return sorted(summaries, key=lambda m: (-(m.failed or 0), m.name.lower()))


_STATE_ORDER = {"failed": 0, "flaky": 1, "unfinished": 2, "passed": 3}


def judge(
    result: Result | None,
    policy: Policy,
    *,
    result_id: int | None = None,
    interruption: tuple[Outcome, str] | None = None,
) -> Verdict:
    """The verdict on `result`; with an interruption (timeout, cancel, error) the gate fails."""
    with paused():
        return _judge(result, policy, result_id, interruption)


def _judge(
    result: Result | None,
    policy: Policy,
    result_id: int | None,
    interruption: tuple[Outcome, str] | None,
) -> Verdict:
    runs = result.runs if result else []
    infra_ids = (
        set((result.not_connected_runs or []) + (result.failed_infrastructure_runs or []))
        if result
        else set()
    )
    split = (
        len({r.personality_name for r in runs}) > 1,
        len({r.test_profile_name for r in runs}) > 1,
    )
    groups: dict[tuple[object, ...], list[Run]] = defaultdict(list)
    for run in runs:
        groups[_group_key(run, *split)].append(run)
    # Runs still going are unfinished only while the result itself has not ended.
    result_ended = result is not None and result.is_terminal
    scenarios = sorted(
        (_scenario(group, infra_ids, policy, split, result_ended) for group in groups.values()),
        key=lambda s: (_STATE_ORDER[s.state], s.pass_rate, s.label.lower()),
    )
    all_runs = [r for s in scenarios for r in s.runs]
    tally = _Tally.of(all_runs, policy)
    passed, infra, counted, rate = tally.passed, tally.infra, tally.counted, tally.rate
    agent = sum(r.kind == "agent_failure" for r in all_runs)

    rules = [_overall_rule(passed, counted, rate, policy, infra)]
    if policy.scenario_pass_threshold is not None:
        rules.append(_scenario_rule(scenarios, policy.scenario_pass_threshold))
    gate_passed = interruption is None and all(rule.passed for rule in rules)
    if interruption:
        outcome, why = interruption
        decided_by = why
    else:
        outcome = Outcome.PASSED if gate_passed else Outcome.FAILED
        failed_rules = [rule for rule in rules if not rule.passed]
        decided_by = "; ".join(rule.detail for rule in (failed_rules or rules))
    return Verdict(
        result_id=result.id if result else result_id,
        result_name=result.name if result else None,
        status=result.status if result else "unknown",
        outcome=outcome,
        gate_passed=gate_passed,
        total_runs=len(all_runs),
        passed_runs=passed,
        failed_runs=len(all_runs) - passed - tally.unfinished,
        agent_failures=agent,
        infra_failures=infra,
        unfinished_runs=tally.unfinished,
        counted_runs=counted,
        pass_rate=rate,
        pass_threshold=policy.pass_threshold,
        scenario_pass_threshold=policy.scenario_pass_threshold,
        infra_failures_policy=policy.infra_failures,
        decided_by=decided_by,
        rules=rules,
        scenarios=scenarios,
        metrics=_metrics(runs),
        duration=result.total_duration if result else None,
        result_created_at=result.created_at if result else None,
    )


def _overall_rule(passed: int, counted: int, rate: float, policy: Policy, infra: int) -> Rule:
    name = f"pass rate ≥ {policy.pass_threshold:g}%"
    if counted == 0:
        why = "no runs to judge" + (
            " (every run was an infrastructure failure, which is ignored)" if infra else ""
        )
        return Rule(name=name, passed=False, detail=why, summary="no runs to judge")
    ignored = (
        f", {infra} infrastructure failures left out"
        if policy.infra_failures == "ignore" and infra
        else ""
    )
    ok = reaches(passed, counted, policy.pass_threshold)
    detail = f"{passed} of {counted} runs passed ({rate:.2f}%{ignored}); {'met' if ok else 'below'} the {policy.pass_threshold:g}% threshold"
    summary = f"{rate:.2f}% of runs passed (threshold {policy.pass_threshold:g}%)"
    return Rule(name=name, passed=ok, detail=detail, summary=summary)


def _scenario_rule(scenarios: list[ScenarioVerdict], threshold: float) -> Rule:
    name = f"every scenario ≥ {threshold:g}%"
    judged = [s for s in scenarios if s.meets_threshold is not None]
    below = [s for s in judged if not s.meets_threshold]
    if not judged:
        return Rule(
            name=name, passed=False, detail="no scenarios to judge", summary="no scenarios to judge"
        )
    if not below:
        return Rule(
            name=name,
            passed=True,
            detail=f"all {len(judged)} scenarios reached {threshold:g}%",
            summary=f"every scenario reached {threshold:g}%",
        )
    # Labels come from the API: clipped, so a huge name cannot crowd out the rest of a report.
    listed = ", ".join(
        f"{one_line(s.label, RULE_LABEL_LIMIT)} {s.passed}/{s.total}" for s in below[:5]
    )
    more = f" and {len(below) - 5} more" if len(below) > 5 else ""
    return Rule(
        name=name,
        passed=False,
        detail=f"{len(below)} scenario(s) below the {threshold:g}% per-scenario threshold: {listed}{more}",
        summary=f"{len(below)} of {len(judged)} scenarios below the {threshold:g}% per-scenario "
        "threshold",
    )
