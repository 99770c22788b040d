"""The timeline: the results that exist, their runs, and what state each is in at a given moment.

A result is planned once, when it is created: every run gets its slot (start, end of call, end of
evaluation) and its outcome. Its state at any later emulated moment follows from that plan, the
world's phase timings, an `end_calls` and the result's time limit; nothing is stored per poll.
Results declared as earlier ones (`past_results`) are frozen in the status they were given.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from .world import (
    TERMINAL,
    PastResultSpec,
    PersonalitySpec,
    RunOutcome,
    ScenarioSpec,
    TestProfileSpec,
    World,
    outcome_at,
)

#: When an earlier result's runs started and how long they took (emulated seconds after creation).
PAST_START = 30.0


@dataclass
class EmulatedRun:
    id: int
    scenario: ScenarioSpec
    repetition: int
    personality: PersonalitySpec
    profile: TestProfileSpec | None
    outcome: RunOutcome
    starts: float
    ends: float
    evaluated: float

    @property
    def finishes(self) -> float:
        """When the run reaches its own terminal status (no evaluation after an error/timeout)."""
        return self.ends if self.outcome in ("error", "timeout") else self.evaluated


@dataclass
class EmulatedResult:
    id: int
    name: str
    agent: int
    #: Emulated second it was created at, and the wall-clock time it says it was created at.
    created: float
    created_at: dt.datetime
    runs: list[EmulatedRun]
    settings: dict[str, Any]
    channel: str = "livekit_v2"
    cost: float = 0.0
    ended_at: float | None = None
    share_tokens: list[str] = field(default_factory=list)
    #: Earlier results keep the status they were declared with.
    frozen: str | None = None

    def wall(self, emulated: float) -> dt.datetime:
        """The wall-clock time of an emulated moment of this result."""
        return self.created_at + dt.timedelta(seconds=emulated - self.created)


@dataclass(frozen=True)
class RunMoment:
    """A run at one emulated moment."""

    status: str
    #: The call was placed (a room was joined), so there is a time it was executed at.
    started: bool = False
    #: A conversation took place: there is a transcript.
    talked: bool = False
    #: The run was judged: metrics and the expected outcome are known.
    evaluated: bool = False
    success: bool = False
    error_message: str = ""
    #: How long the call has lasted (so far, or until it was cut short).
    seconds: float = 0.0


@dataclass(frozen=True)
class ResultMoment:
    status: str
    runs: list[RunMoment]


CANCELLED_MESSAGE = "Call ended by user."
RESULT_TIMEOUT_MESSAGE = "The result did not finish within its time limit; the call was ended."
RUN_TIMEOUT_MESSAGE = "The call exceeded its maximum duration and was ended."


def _cut(result: EmulatedResult, run: EmulatedRun, timeout_at: float | None) -> tuple[float, str]:
    """(when, status) a run is cut short by `end_calls` or the result's time limit, if it is."""
    cuts = [
        (moment, status)
        for moment, status in ((result.ended_at, "cancelled"), (timeout_at, "timeout"))
        if moment is not None and moment < run.finishes
    ]
    return min(cuts, key=lambda cut: cut[0]) if cuts else (float("inf"), "")


def timeout_at(result: EmulatedResult, world: World) -> float | None:
    limit = world.timing.result_timeout
    return None if limit is None or result.frozen else result.created + limit


def run_moment(result: EmulatedResult, run: EmulatedRun, now: float, world: World) -> RunMoment:
    if result.frozen is not None and result.frozen not in TERMINAL:
        return RunMoment("running", started=True, seconds=run.scenario.duration / 2)
    if result.frozen is not None:
        now = float("inf")
    cut_at, cut_status = _cut(result, run, timeout_at(result, world))
    if cut_status and now >= cut_at:
        message = CANCELLED_MESSAGE if cut_status == "cancelled" else RESULT_TIMEOUT_MESSAGE
        started = run.starts < cut_at
        talked = started and run.outcome != "error"
        seconds = max(0.0, min(cut_at, run.ends) - run.starts) if talked else 0.0
        return RunMoment(
            cut_status, started=started, talked=talked, error_message=message, seconds=seconds
        )
    if now < run.starts:
        return RunMoment("pending")
    if now < run.ends:
        return RunMoment("running", started=True, seconds=now - run.starts)
    if run.outcome == "error":
        return RunMoment("failed", started=True, error_message=run.scenario.error_message)
    length = run.ends - run.starts
    if run.outcome == "timeout":
        return RunMoment(
            "timeout", started=True, talked=True, error_message=RUN_TIMEOUT_MESSAGE, seconds=length
        )
    if now < run.evaluated:
        return RunMoment("evaluating", started=True, talked=True, seconds=length)
    return RunMoment(
        "completed",
        started=True,
        talked=True,
        evaluated=True,
        success=run.outcome == "pass",
        seconds=length,
    )


def result_moment(result: EmulatedResult, now: float, world: World) -> ResultMoment:
    runs = [run_moment(result, run, now, world) for run in result.runs]
    return ResultMoment(_result_status(result, runs, now, world), runs)


def _result_status(result: EmulatedResult, runs: list[RunMoment], now: float, world: World) -> str:
    if result.frozen is not None:
        return result.frozen
    statuses = {r.status for r in runs}
    if result.ended_at is not None and now >= result.ended_at and "cancelled" in statuses:
        return "cancelled"
    limit = timeout_at(result, world)
    if limit is not None and now >= limit and any(run.finishes > limit for run in result.runs):
        return "timeout"
    elapsed = now - result.created
    timing = world.timing
    for phase, length in (
        ("pending", timing.pending),
        ("in_queue", timing.in_queue),
        ("scaling_up", timing.scaling_up),
        ("in_progress", timing.in_progress),
    ):
        if elapsed < length:
            return phase
        elapsed -= length
    if statuses & {"pending", "running"}:
        return "running"
    if "evaluating" in statuses:
        return "evaluating"
    return "failed" if statuses == {"failed"} else "completed"


@dataclass(frozen=True)
class RunPlan:
    """One call to place: a scenario, with the personality and test profile it runs as."""

    scenario: ScenarioSpec
    personality: PersonalitySpec
    profile: TestProfileSpec | None


def _outcome(plan: RunPlan, repetition: int) -> RunOutcome:
    spec = plan.scenario
    if plan.profile is not None and plan.profile.id in spec.by_profile:
        return outcome_at(spec.by_profile[plan.profile.id], repetition)
    if plan.personality.id in spec.by_personality:
        return outcome_at(spec.by_personality[plan.personality.id], repetition)
    return spec.outcome_of(repetition)


def expand(
    world: World,
    specs: list[ScenarioSpec],
    personalities: list[PersonalitySpec] | None,
    profiles: list[TestProfileSpec] | None,
) -> list[RunPlan]:
    """Scenarios × personalities × test profiles, as Cekura multiplies overrides."""
    return [
        RunPlan(spec, personality, profile)
        for spec in specs
        for personality in (personalities or [world.default_personality(spec)])
        for profile in (profiles or [None])
    ]


class Ledger:
    """Every result the stand-in knows, and the ids the next ones get."""

    def __init__(self, world: World, started_at: dt.datetime) -> None:
        self.world = world
        self.results: dict[int, EmulatedResult] = {}
        self._next_run_id = 500001
        self._seed_past(started_at)
        self._next_result_id = max([9000, *self.results]) + 1

    def create(
        self,
        *,
        name: str | None,
        agent: int,
        plans: list[RunPlan],
        frequency: int,
        concurrency: int | None,
        settings: dict[str, Any],
        now: float,
        created_at: dt.datetime,
        channel: str = "livekit_v2",
    ) -> EmulatedResult:
        timing = self.world.timing
        limit = min(concurrency or self.world.concurrency, self.world.concurrency)
        first_start = now + timing.pending + timing.in_queue + timing.scaling_up
        slot_free = [first_start + timing.in_progress] * max(1, limit)
        runs = []
        for repetition in range(1, frequency + 1):
            for plan in plans:
                slot = min(range(len(slot_free)), key=slot_free.__getitem__)
                starts = slot_free[slot]
                ends = starts + plan.scenario.duration
                slot_free[slot] = ends
                runs.append(self._run(plan, repetition, starts, ends, ends + timing.evaluating))
        result = EmulatedResult(
            id=self._next_result_id,
            name=name or f"Result {self._next_result_id}",
            agent=agent,
            created=now,
            created_at=created_at,
            runs=runs,
            settings={"frequency": frequency, **settings},
            channel=channel,
            cost=sum(self.world.cost_of(run.scenario) for run in runs),
        )
        self._next_result_id += 1
        self.results[result.id] = result
        return result

    def get(self, result_id: int) -> EmulatedResult | None:
        return self.results.get(result_id)

    def spent(self) -> float:
        return sum(result.cost for result in self.results.values() if result.frozen is None)

    def ordered(self) -> list[EmulatedResult]:
        """The results in the order the list serves them (see World.results_order)."""
        rows = sorted(self.results.values(), key=lambda r: (r.created_at, r.id))
        order = self.world.results_order
        if order == "newest":
            rows.reverse()
        elif order == "shuffled":
            random.Random(self.world.seed).shuffle(rows)  # noqa: S311 - an order, not a secret
        return rows

    def _run(
        self, plan: RunPlan, repetition: int, starts: float, ends: float, evaluated: float
    ) -> EmulatedRun:
        run = EmulatedRun(
            self._next_run_id,
            plan.scenario,
            repetition,
            plan.personality,
            plan.profile,
            _outcome(plan, repetition),
            starts,
            ends,
            evaluated,
        )
        self._next_run_id += 1
        return run

    def _seed_past(self, started_at: dt.datetime) -> None:
        """Earlier results, oldest first, with ids below the ones new results get."""
        past = sorted(self.world.past_results, key=lambda p: -p.age)
        next_id = 9001 - len(past)
        self._next_run_id -= sum(
            p.frequency * len(self._past_specs(p)) for p in self.world.past_results
        )
        for spec in past:
            result_id = spec.id if spec.id is not None else next_id
            next_id += 1
            self.results[result_id] = self._past(spec, result_id, started_at)
        self._next_run_id = max(self._next_run_id, 500001)

    def _past_specs(self, past: PastResultSpec) -> list[ScenarioSpec]:
        if past.scenarios is not None:
            return [s for s in self.world.scenarios if s.id in past.scenarios]
        return [s for s in self.world.scenarios if s.agent == past.agent]

    def _past(
        self, past: PastResultSpec, result_id: int, started_at: dt.datetime
    ) -> EmulatedResult:
        runs = []
        for repetition in range(1, past.frequency + 1):
            for spec in self._past_specs(past):
                plan = RunPlan(spec, self.world.default_personality(spec), None)
                run = self._run(
                    plan,
                    repetition,
                    PAST_START,
                    PAST_START + spec.duration,
                    PAST_START + spec.duration + self.world.timing.evaluating,
                )
                if spec.id in past.outcomes:
                    run.outcome = outcome_at(past.outcomes[spec.id], repetition)
                runs.append(run)
        return EmulatedResult(
            id=result_id,
            name=past.name,
            agent=past.agent,
            created=0.0,
            created_at=started_at - dt.timedelta(seconds=past.age),
            runs=runs,
            settings={"frequency": past.frequency},
            frozen=past.status,
        )
