"""How soon the gate notices the end, and how many requests it spends: `python benchmarks/polling.py`.

Simulates results on a fixed seed (queue 0-5 min; 1-50 runs whose calls, 1-5 min each, are spread
over 2-30 min; each run scored 10-90 s after its call ends; 0.5 s per request) and drives the real
`Waiter` through each with a clock that only moves when something sleeps, once per policy. A fake
client answers each GET with the result as it stands at that moment.

Lag is the time from the result reaching its terminal status to the gate holding that answer.
Prints, per policy, lag p50/p95/p99, GETs per result, and how many timelines took more GETs than
polling every 30 s took on the same timeline; then the same for the shortest results.
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
from dataclasses import dataclass

from cekura_ci.models import Result, Run
from cekura_ci.timing import Backoff, Clock
from cekura_ci.waiter import Waiter

REQUEST_SECONDS = 0.5
RUN_STATUSES = ("pending", "running", "evaluating", "completed")


class SimClock(Clock):
    """Simulated time: `sleep` moves it forward at once."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@dataclass(frozen=True)
class Timeline:
    queue: float
    calls_end: float  # the last call ends
    end: float  # the last run is scored: the result is completed
    changes: list[list[float]]  # per run: when it starts its call, ends it, is scored
    runs: list[tuple[Run, ...]]  # per run: the Run it is in each of RUN_STATUSES

    def status(self, t: float) -> str:
        if t < self.queue:
            return "in_queue" if t < self.queue * 0.8 else "scaling_up"
        if t < self.calls_end:
            return "running"
        return "evaluating" if t < self.end else "completed"

    def result(self, t: float) -> Result:
        runs = [
            states[bisect.bisect_right(at, t)]
            for at, states in zip(self.changes, self.runs, strict=True)
        ]
        return Result.model_validate({"id": 1, "status": self.status(t), "runs": runs})


def timeline(rng: random.Random) -> Timeline:
    count = rng.randint(1, 50)
    queue = rng.uniform(0, 300)
    span = rng.uniform(120, 1800)
    changes, runs = [], []
    for i in range(count):
        length = rng.uniform(min(60, span), min(300, span))
        ends = queue + span if i == 0 else rng.uniform(queue + length, queue + span)
        scored = ends + rng.uniform(10, 90)
        changes.append([ends - length, ends, scored])
        success = rng.random() < 0.9
        runs.append(
            tuple(
                Run(
                    id=i + 1,
                    scenario=1,
                    status=status,
                    success=success if status == "completed" else None,
                )
                for status in RUN_STATUSES
            )
        )
    return Timeline(queue, queue + span, max(c[2] for c in changes), changes, runs)


class FakeClient:
    """Answers every GET with the result as it stands halfway through the request."""

    def __init__(self, line: Timeline, clock: SimClock) -> None:
        self.line, self.clock, self.gets = line, clock, 0

    def get_result(self, result_id: int) -> Result:
        self.gets += 1
        answer = self.line.result(self.clock.t + REQUEST_SECONDS / 2)
        self.clock.t += REQUEST_SECONDS
        return answer


def simulate(line: Timeline, policy: float | str) -> tuple[float, int]:
    """(lag in seconds, GETs) of one policy on one timeline."""
    clock = SimClock()
    client = FakeClient(line, clock)
    waiter = Waiter(
        client,  # type: ignore[arg-type]
        clock,
        Backoff(rng=random.Random(0)),
        poll_interval=policy,  # type: ignore[arg-type]
        timeout=6 * 3600,
        max_outage=600,
        on_progress=lambda _line: None,
    )
    waiter.wait(1)
    return clock.t - line.end, client.gets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(rows: dict[str, list[tuple[float, int]]], title: str) -> None:
    baseline = [gets for _lag, gets in rows["fixed 30 s"]]
    print(f"\n{title}")
    print(
        "| policy | lag p50 | p95 | p99 | GETs per result | vs fixed 30 s | timelines with more GETs than fixed 30 s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, figures in rows.items():
        lags = [lag for lag, _gets in figures]
        gets = [g for _lag, g in figures]
        more = sum(g > b for g, b in zip(gets, baseline, strict=True)) / len(gets)
        print(
            f"| {name} | {percentile(lags, 0.5):.1f} s | {percentile(lags, 0.95):.1f} s | "
            f"{percentile(lags, 0.99):.1f} s | {statistics.mean(gets):.1f} | "
            f"{statistics.mean(gets) / statistics.mean(baseline):.2f} | {more:.1%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timelines", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = [timeline(rng) for _ in range(args.timelines)]
    policies: dict[str, float | str] = {"fixed 30 s": 30.0, "fixed 10 s": 10.0, "auto": "auto"}
    rows = {name: [simulate(line, policy) for line in lines] for name, policy in policies.items()}
    table(rows, f"{args.timelines} timelines, seed {args.seed}")
    short = [i for i, line in enumerate(lines) if line.end < 600]
    table(
        {name: [figures[i] for i in short] for name, figures in rows.items()},
        f"the {len(short)} of them that end within 10 minutes",
    )
    few = [i for i, line in enumerate(lines) if len(line.runs) <= 3]
    table(
        {name: [figures[i] for i in few] for name, figures in rows.items()},
        f"the {len(few)} of them with 1-3 runs",
    )


if __name__ == "__main__":
    main()
