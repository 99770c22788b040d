"""Speed and size, measured rather than asserted: `python benchmarks/bench.py`.

- judging and rendering the largest result a step can ask for (100 scenarios × frequency 100);
- the size of each report for it;
- a full gate against the local stand-in, wall time and requests made.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cekura_ci.models import Result
from cekura_ci.report.json_report import render_json
from cekura_ci.report.junit import render_junit
from cekura_ci.report.markdown import render_summary
from cekura_ci.verdict import Policy, judge


def largest_result() -> Result:
    runs = {}
    for i in range(1, 10_001):
        outcome = i % 7
        run = {
            "id": i,
            "scenario": 100 + i % 100,
            "scenario_name": f"Scenario {i % 100}: caller books, moves and cancels an appointment",
            "status": "completed" if outcome else "failed",
            "success": outcome not in (0, 1),
            "duration": "02:10",
            "error_message": "" if outcome else "LiveKit room closed before the agent joined",
            "transcript_object": [{"role": "Main Agent", "content": "How can I help? " * 10}] * 12
            if outcome
            else [],
            "expected_outcome": {
                "score": 0,
                "explanation": ["✅ greeted", "❌ never confirmed the slot " * 5],
            },
            "evaluation": {
                "metrics": [
                    {"name": "Slot confirmed", "type": "binary", "score": 0 if outcome == 1 else 5},
                    {"name": "Latency", "type": "numeric", "score": 600 + i % 300},
                ]
            },
        }
        runs[str(i)] = run
    return Result.model_validate(
        {"id": 1, "name": "benchmark", "status": "completed", "runs": runs}
    )


def timed(label: str, action: Callable[[], object], repeat: int = 5) -> object:
    durations, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = action()
        durations.append(time.perf_counter() - started)
    print(
        f"{label:<38} median {statistics.median(durations) * 1000:8.1f} ms  (min {min(durations) * 1000:.1f})"
    )
    return value


def main() -> None:
    result = timed("parse 10,000 runs", largest_result, repeat=3)
    verdict = timed("judge 10,000 runs", lambda: judge(result, Policy(pass_threshold=95)))
    summary = timed("render the job summary", lambda: render_summary(verdict))
    junit = timed("render JUnit XML", lambda: render_junit(verdict), repeat=3)
    report = timed("render the JSON report", lambda: render_json(verdict), repeat=3)
    print(f"{'summary size':<38} {len(summary.encode()):>10,} bytes (limit 1,048,576)")
    print(f"{'JUnit size':<38} {len(junit.encode()):>10,} bytes")
    print(f"{'JSON report size':<38} {len(report.encode()):>10,} bytes")

    from cekura_ci.emulator.server import running
    from cekura_ci.emulator.world import demo_world

    world = demo_world().model_copy(update={"faults": [], "speed": 400})
    with running(world) as server:
        from cekura_ci.cli import build_gate, load_settings
        from cekura_ci.github import GitHub
        from cekura_ci.timing import CancelToken, Clock

        raw = {
            "api_key": world.api_key,
            "agent_id": "42",
            "scenario_ids": "101,102,103,104,105",
            "frequency": "3",
            "poll_interval": "1",
            "api_url": server.url,
            "summary_file": str(Path(tempfile.mkdtemp()) / "summary.md"),
        }
        gate = build_gate(load_settings(raw, {}), GitHub({}, io.StringIO()), Clock(CancelToken()))
        started = time.perf_counter()
        gate.run()
        print(
            f"{'gate against the stand-in (15 runs)':<38} {time.perf_counter() - started:8.2f} s, {len(server.requests)} requests"
        )


if __name__ == "__main__":
    main()
