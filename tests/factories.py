"""Build Cekura result payloads shaped like the detail endpoint's answers."""

from __future__ import annotations

from typing import Any

from cekura_ci.models import Result


def run(
    run_id: int,
    scenario: int = 101,
    outcome: str = "pass",
    *,
    name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run that passed ("pass"), failed its evaluation ("fail") or never connected ("error")."""
    base: dict[str, Any] = {
        "id": run_id,
        "scenario": scenario,
        "scenario_name": name or f"Scenario {scenario}",
        "status": "completed",
        "success": True,
        "transcript_object": [
            {"role": "Main Agent", "content": "Hello, how can I help?"},
            {"role": "Testing Agent", "content": "I'd like to book."},
        ],
        "duration": "01:30",
    }
    if outcome == "fail":
        base.update(
            success=False,
            expected_outcome={
                "score": 0,
                "explanation": ["✅ Greeted the caller", "❌ Did not confirm the booking"],
            },
            evaluation={
                "metrics": [
                    {
                        "name": "Booking confirmed",
                        "type": "binary",
                        "score": 0,
                        "explanation": ["No confirmation."],
                    }
                ]
            },
        )
    elif outcome == "error":
        base.update(
            status="failed",
            success=False,
            error_message="SIP 503: callee unreachable",
            transcript_object=[],
            duration="00:00",
        )
    base.update(extra)
    return base


def result(runs: list[dict[str, Any]], status: str = "completed", **extra: Any) -> Result:
    return Result.model_validate(
        {
            "id": 77,
            "name": "gate run",
            "status": status,
            "runs": {str(r["id"]): r for r in runs},
            **extra,
        }
    )


def runs_for(pattern: dict[int, str], start: int = 1) -> list[dict[str, Any]]:
    """{scenario: "ppf"} → runs of each scenario: p pass, f fail, e error."""
    out, next_id = [], start
    for scenario, outcomes in pattern.items():
        for letter in outcomes:
            out.append(run(next_id, scenario, {"p": "pass", "f": "fail", "e": "error"}[letter]))
            next_id += 1
    return out
