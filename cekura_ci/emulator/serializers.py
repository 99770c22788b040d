"""Serializers: every answer's shape, as the OpenAPI document's examples and schemas show it.

Where the document's example and its schema disagree (a count typed `string` whose example is an
integer, `is_cronjob` typed `string` whose example is a boolean, `scenarios` typed `string` whose
example is a list of `{id, name}`), the example wins: drf-spectacular types an unannotated
SerializerMethodField as a string, so the example is the better witness of what is sent. Counts can
be switched to strings per world (`counts: string`). Where the document says nothing else, the
schema's types are followed, odd ones included (id lists as JSON text, a run's `expected_outcome`
as text in the bulk endpoint). Nothing here reads the clock: the moment comes from the timeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import statistics
from collections.abc import Iterable
from typing import Any

from .timeline import EmulatedResult, EmulatedRun, ResultMoment, RunMoment, RunPlan
from .world import LATENCY_METRIC, TERMINAL, AgentSpec, ScenarioSpec, TestProfileSpec, World

SHARE_URL = "https://dashboard.cekura.ai/share/{token}"
PASS_SCORE = 5


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def mmss(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _count(world: World, value: int) -> int | str:
    return str(value) if world.counts == "string" else value


def _function_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _agent_name(world: World, agent_id: int) -> str:
    agent = world.agent(agent_id)
    return agent.agent_name if agent else ""


def _agent_version(world: World, agent_id: int) -> str:
    agent = world.agent(agent_id)
    return agent.agent_version if agent else ""


def profile_data(profile: TestProfileSpec | None) -> dict[str, Any] | None:
    """A run's `test_profile_data` (`TestProfileData`), or None without a profile override."""
    if profile is None:
        return None
    return {"id": profile.id, "name": profile.name, "information": profile.information}


# --- conversations and evaluations -------------------------------------------------------------


def conversation(spec: ScenarioSpec, passed: bool, complete: bool = True) -> list[dict[str, Any]]:
    last = (
        "Great, you're all set. Is there anything else I can help with?"
        if passed
        else "Done. Anything else?"
    )
    turns = [
        ("Main Agent", "Thanks for calling. How can I help you today?"),
        ("Testing Agent", f"Hi, I'm calling about this: {spec.name.lower()}."),
        ("Main Agent", "Sure, let me check that for you."),
        ("Testing Agent", "Thank you."),
        ("Main Agent", last),
        ("Testing Agent", "No, that's all. Bye."),
    ]
    return [
        {
            "role": role,
            "content": content,
            "timestamp": float(i * 4),
            "normalized_content": content.lower(),
            "comparison_spans": [],
        }
        for i, (role, content) in enumerate(turns if complete else turns[:3])
    ]


def latency_ms(spec: ScenarioSpec) -> int:
    return 640 + 15 * (spec.id % 7)


def metrics(world: World, spec: ScenarioSpec, passed: bool) -> list[dict[str, Any]]:
    ids = world.metric_ids()
    return [
        {
            "id": ids[spec.failing_metric],
            "name": spec.failing_metric,
            "type": spec.metric_type,
            "score": PASS_SCORE if passed else 0,
            "score_normalized": 1.0 if passed else 0.0,
            "enum": "",
            "value": "",
            "explanation": ["Requirement met."] if passed else [spec.failure_explanation],
            "function_name": _function_name(spec.failing_metric),
            "extra": {},
        },
        {
            "id": ids[LATENCY_METRIC],
            "name": LATENCY_METRIC,
            "type": "numeric",
            "score": latency_ms(spec),
            "enum": "",
            "value": "",
            "explanation": [],
            "function_name": _function_name(LATENCY_METRIC),
            "extra": {"percentiles": {"p50": latency_ms(spec)}},
        },
    ]


def expected_outcome(spec: ScenarioSpec, passed: bool) -> dict[str, Any]:
    return {
        "score": 100 if passed else 0,
        "explanation": ["✅ The caller's request was understood."]
        + ([] if passed else [f"❌ {spec.failure_explanation}"]),
        "outcome_alignments": [
            {"outcome": spec.expected_outcome_prompt, "prompt_part": spec.name, "aligned": passed}
        ],
    }


# --- runs --------------------------------------------------------------------------------------


def _run_fields(world: World, result: EmulatedResult, run: EmulatedRun, m: RunMoment) -> dict:
    """What every form of a run says; each endpoint picks and shapes its own."""
    spec = run.scenario
    # A call that ended normally has the whole conversation; one cut short, its beginning.
    turns = conversation(
        spec, run.outcome == "pass", complete=m.status in ("completed", "evaluating")
    )
    talked = m.talked
    return {
        "id": run.id,
        "call_id": f"lk-room-{run.id}",
        "scenario": spec.id,
        "scenario_name": spec.name,
        "personality": run.personality.id,
        "personality_name": run.personality.name,
        "test_profile_data": profile_data(run.profile),
        "status": m.status,
        "success": m.success,
        "error_message": m.error_message,
        "timestamp": iso(result.created_at),
        "executed_at": iso(result.wall(run.starts)) if m.started else None,
        "duration": mmss(m.seconds),
        "metadata": {"ended_reason": "customer-ended-call"} if talked else {},
        "transcript": "\n".join(
            f"[00:{int(t['timestamp']):02d}] {t['role']}: {t['content']}" for t in turns
        )
        if talked
        else "",
        "transcript_object": turns if talked else [],
        "expected_outcome": expected_outcome(spec, m.success) if m.evaluated else None,
        "evaluation": {"metrics": metrics(world, spec, m.success) if m.evaluated else []},
        "evaluation_status": ("success" if m.success else "failure") if m.evaluated else None,
    }


def run_in_detail(world: World, result: EmulatedResult, run: EmulatedRun, m: RunMoment) -> dict:
    """A run inside the result detail (`runs` keyed by id strings)."""
    fields = _run_fields(world, result, run, m)
    if fields["evaluation_status"] is None:
        del fields["evaluation_status"]
    return {
        **fields,
        "agent_version": _agent_version(world, result.agent),
        "outbound_number": "",
        "inbound_number": "",
    }


def run_bulk(world: World, result: EmulatedResult, run: EmulatedRun, m: RunMoment) -> dict:
    """GET /runs/bulk/: the `Run` schema (its `expected_outcome` is typed as text)."""
    fields = _run_fields(world, result, run, m)
    outcome = fields.pop("expected_outcome")
    if fields["evaluation_status"] is None:
        del fields["evaluation_status"]
    del fields["call_id"]
    return {
        **fields,
        "provider_call_id": f"lk-room-{run.id}",
        "scenario_type": "instruction",
        "agent": result.agent,
        "agent_name": _agent_name(world, result.agent),
        "result_id": result.id,
        "result_name": result.name,
        "expected_outcome_prompt": run.scenario.expected_outcome_prompt,
        "expected_outcome": json.dumps(outcome) if outcome else "",
        "scenario_instructions": run.scenario.instructions,
        "outbound_number": "",
        "inbound_number": "",
        "critical_categories": [],
        "run_as_text": False,
        "mocked_tool_names": list(result.settings.get("mock_tool_names") or []),
        "agent_number": None,
        "run_type": result.channel,
    }


def run_row(world: World, result: EmulatedResult, run: EmulatedRun, m: RunMoment) -> dict:
    """A row of GET /runs/: the `RunList` schema."""
    fields = _run_fields(world, result, run, m)
    row = {
        key: fields[key]
        for key in (
            "id", "scenario", "scenario_name", "personality", "personality_name", "duration",
            "status", "success", "timestamp", "executed_at", "metadata", "error_message",
        )
    }  # fmt: skip
    if fields["evaluation_status"] is not None:
        row["evaluation_status"] = fields["evaluation_status"]
    if fields["expected_outcome"] is not None:
        row["expected_outcome"] = fields["expected_outcome"]
    return {
        **row,
        "provider_call_id": f"lk-room-{run.id}",
        "result_id": result.id,
        "agent": result.agent,
        "agent_name": _agent_name(world, result.agent),
        "outbound_number": "",
        "inbound_number": "",
        "critical_categories": "[]",
        "metrics": json.dumps(fields["evaluation"]["metrics"]),
        "run_as_text": False,
        "test_profile_name": run.profile.name if run.profile else "",
        "agent_number": None,
        "run_type": result.channel,
        "agent_version": _agent_version(world, result.agent),
    }


# --- results -----------------------------------------------------------------------------------


def _scenarios(result: EmulatedResult) -> list[dict[str, Any]]:
    unique = {run.scenario.id: run.scenario for run in result.runs}
    return [{"id": spec.id, "name": spec.name} for spec in unique.values()]


def _tallies(result: EmulatedResult, moment: ResultMoment) -> dict[str, int]:
    pairs = list(zip(result.runs, moment.runs, strict=True))
    done = [m for _, m in pairs if m.status in TERMINAL]
    passed = [m for m in done if m.success]
    return {
        "total": len(pairs),
        "done": len(done),
        "passed": len(passed),
        "evaluated": sum(1 for m in done if m.evaluated),
    }


def _success_rate(tally: dict[str, int]) -> float:
    return round(100 * tally["passed"] / tally["total"], 2) if tally["total"] else 0.0


def _counts(world: World, tally: dict[str, int]) -> dict[str, int | str]:
    # As the list endpoint's description warns, `success_runs_count` counts runs that reached a
    # terminal status, connection errors included; the runs that passed are
    # `met_expected_outcome_count`.
    values = {
        "met_expected_outcome_count": tally["passed"],
        "total_expected_outcome_count": tally["evaluated"],
        "total_runs_count": tally["total"],
        "completed_runs_count": tally["done"],
        "success_runs_count": tally["done"],
        "failed_runs_count": tally["done"] - tally["passed"],
    }
    return {key: _count(world, value) for key, value in values.items()}


def _failed_reasons(result: EmulatedResult, moment: ResultMoment) -> list[dict[str, Any]]:
    reasons: dict[str, list[int]] = {}
    for run, m in zip(result.runs, moment.runs, strict=True):
        if m.status not in TERMINAL or m.success:
            continue
        reason = m.error_message or f"{run.scenario.failing_metric}: not met"
        reasons.setdefault(reason, []).append(run.id)
    return [{"reason": r, "count": len(ids), "run_ids": ids} for r, ids in reasons.items()]


def _overall_evaluation(
    world: World, result: EmulatedResult, moment: ResultMoment, rate: float
) -> dict[str, Any]:
    ids = world.metric_ids()
    evaluated = [(run, m) for run, m in zip(result.runs, moment.runs, strict=True) if m.evaluated]
    summary: dict[str, dict[str, Any]] = {}
    by_metric: dict[str, list[tuple[EmulatedRun, bool]]] = {}
    for run, m in evaluated:
        by_metric.setdefault(run.scenario.failing_metric, []).append((run, m.success))
    for name, rows in by_metric.items():
        met = sum(1 for _, passed in rows if passed)
        summary[str(ids[name])] = {
            "id": ids[name],
            "name": name,
            "type": rows[0][0].scenario.metric_type,
            "score": round(PASS_SCORE * met / len(rows), 2),
            "explanation": f"{met} of {len(rows)} runs met it.",
            "function_name": _function_name(name),
        }
    numeric = []
    if evaluated:
        latencies = [latency_ms(run.scenario) for run, _ in evaluated]
        p50 = statistics.median(latencies)
        summary[str(ids[LATENCY_METRIC])] = {
            "id": ids[LATENCY_METRIC],
            "name": LATENCY_METRIC,
            "type": "numeric",
            "score": round(statistics.fmean(latencies), 2),
            "function_name": _function_name(LATENCY_METRIC),
            "p50": p50,
        }
        numeric.append(
            {
                "name": LATENCY_METRIC,
                "type": "numeric",
                "value": round(statistics.fmean(latencies), 2),
                "percentiles": {"p50": p50},
            }
        )
    worst = sorted(
        (m for m in summary.values() if m["type"] != "numeric" and m["score"] < PASS_SCORE),
        key=lambda m: m["score"],
    )
    return {
        "success_rate": rate,
        "metric_summary": summary,
        "worst_performing_metrics": {"binary_adherence": [m["id"] for m in worst]},
        "numeric_metrics": numeric,
        "enum_metrics": [],
        "extra_metrics": [{"name": "Expected Outcome", "type": "percentage", "value": rate}],
    }


def _runs_by_tags(result: EmulatedResult, moment: ResultMoment) -> dict[str, dict[str, int]]:
    tags: dict[str, dict[str, int]] = {}
    for run, m in zip(result.runs, moment.runs, strict=True):
        for tag in run.scenario.tags:
            entry = tags.setdefault(tag, {"total": 0, "success": 0})
            entry["total"] += 1
            entry["success"] += int(m.success)
    return tags


def _id_list(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


def result_detail(
    world: World, result: EmulatedResult, moment: ResultMoment, updated_at: dt.datetime
) -> dict[str, Any]:
    """GET /results/{id}/: `ResultDetailV2`, as its example shows it."""
    pairs = list(zip(result.runs, moment.runs, strict=True))
    tally = _tallies(result, moment)
    rate = _success_rate(tally)
    finished = [(run, m) for run, m in pairs if m.status in TERMINAL]
    latencies = [latency_ms(run.scenario) for run, m in pairs if m.evaluated]
    overall = _overall_evaluation(world, result, moment, rate)
    return {
        "id": result.id,
        "name": result.name,
        "agent": result.agent,
        "agent_name": _agent_name(world, result.agent),
        "agent_version": _agent_version(world, result.agent),
        "status": moment.status,
        **_counts(world, tally),
        "success_rate": rate,
        "run_as_text": False,
        "is_cronjob": False,
        "runs": {str(run.id): run_in_detail(world, result, run, m) for run, m in pairs},
        "overall_evaluation": overall,
        "total_duration": mmss(sum(m.seconds for m in moment.runs)),
        "connected_runs": _id_list(run.id for run, m in pairs if m.talked),
        "not_connected_runs": _id_list(run.id for run, m in finished if not m.talked),
        "failed_infrastructure_runs": _id_list(run.id for run, m in finished if not m.talked),
        "failed_workflow_runs": _id_list(
            run.id for run, m in finished if m.evaluated and not m.success
        ),
        "successful_calls": _id_list(run.id for run, m in pairs if m.success),
        "scenarios": _scenarios(result),
        "critical_categories": [],
        "metrics": list(overall["metric_summary"].values()),
        "runs_by_tags": _runs_by_tags(result, moment),
        "latency_data": (
            {"p50": statistics.median(latencies), "average": round(statistics.fmean(latencies), 2)}
            if latencies
            else {}
        ),
        "failed_reasons": _failed_reasons(result, moment),
        "ai_summary_status": "completed" if moment.status in TERMINAL else "pending",
        "run_type": result.channel,
        "run_settings": dict(result.settings),
        "created_at": iso(result.created_at),
        "updated_at": iso(updated_at),
    }


def result_row(
    world: World, result: EmulatedResult, moment: ResultMoment, updated_at: dt.datetime
) -> dict[str, Any]:
    """A row of GET /results/: `Result`. Its `runs` is a list (the detail's description says the
    list endpoint's is not keyed by id), its `scenarios` an object of names by id."""
    tally = _tallies(result, moment)
    agent = world.agent(result.agent)
    return {
        "id": result.id,
        "name": result.name,
        "agent": result.agent,
        "agent_name": _agent_name(world, result.agent),
        "agent_inbound": agent.inbound if agent else True,
        "agent_version": _agent_version(world, result.agent),
        "status": moment.status,
        "success_rate": _success_rate(tally),
        "run_as_text": False,
        "is_cronjob": False,
        "runs": [
            {
                "id": run.id,
                "status": m.status,
                "scenario": run.scenario.id,
                "scenario_name": run.scenario.name,
                "personality_name": run.personality.name,
                "success": m.success,
            }
            for run, m in zip(result.runs, moment.runs, strict=True)
        ],
        **_counts(world, tally),
        "scenarios": {str(s["id"]): s["name"] for s in _scenarios(result)},
        "run_type": result.channel,
        "created_at": iso(result.created_at),
        "updated_at": iso(updated_at),
    }


def trigger_answer(result: EmulatedResult) -> dict[str, Any]:
    """The 200 answer of a run request: the result and its pending runs, as a list."""
    return {
        "id": result.id,
        "agent": result.agent,
        "status": "pending",
        "run_as_text": False,
        "runs": [
            {
                "id": run.id,
                "status": "pending",
                "scenario": run.scenario.id,
                "inbound_number": None,
                "scenario_name": run.scenario.name,
                "test_profile_data": profile_data(run.profile),
                "outbound_dial_window_opens_at": None,
                "outbound_dial_window_seconds": None,
                "outbound_dial_window_closes_at": None,
            }
            for run in result.runs
        ],
        "created_at": iso(result.created_at),
    }


# --- scenarios, agents, billing ----------------------------------------------------------------


def scenario_detail(world: World, spec: ScenarioSpec) -> dict[str, Any]:
    """GET /scenarios/{id}/: `SchemaScenario`."""
    agent = world.agent(spec.agent)
    personality = world.default_personality(spec)
    ids = world.metric_ids()
    return {
        "id": spec.id,
        "name": spec.name,
        "agent": spec.agent,
        "project": agent.project if agent else None,
        "agent_name": agent.agent_name if agent else "",
        "instructions": spec.instructions,
        "expected_outcome_prompt": spec.expected_outcome_prompt,
        "tags": list(spec.tags),
        "folder_path": spec.folder_path,
        "scenario_type": "instruction",
        "scenario_language": "en",
        "personality": personality.id,
        "personality_name": personality.name,
        "metrics": [ids[spec.failing_metric], ids[LATENCY_METRIC]],
        "metric_names": [spec.failing_metric, LATENCY_METRIC],
        "first_message": "Hello",
        "test_profile": None,
        "max_duration": round(spec.duration * 2),
    }


def scenario_row(world: World, spec: ScenarioSpec) -> dict[str, Any]:
    """A row of GET /scenarios/: `ScenarioList`, which types the metric lists as JSON text."""
    detail = scenario_detail(world, spec)
    del detail["project"], detail["max_duration"]
    return {
        **detail,
        "metrics": json.dumps(detail["metrics"]),
        "metric_names": json.dumps(detail["metric_names"]),
    }


def agent_detail(agent: AgentSpec) -> dict[str, Any]:
    """GET /aiagents/{id}/: `AIAgent`, the fields a LiveKit agent has."""
    return {
        **agent.model_dump(exclude={"agent_version"}),
        "assistant_provider": "livekit",
        "livekit_api_key_configured": "true",
    }


def _money(value: float) -> str:
    return f"{value:.2f}"


def billing_info(world: World, spent: float, now: dt.datetime) -> dict[str, Any]:
    """GET /test_framework/billing/info/: `BillingInfo`."""
    expires = now + dt.timedelta(days=30)
    return {
        "organization": 1,
        "credits_remaining": _money(max(0.0, world.credits - spent)),
        "credits_used": _money(spent),
        "initial_balance": _money(world.credits),
        "balance_expiry": iso(expires),
        "subscription_status": {
            "status": "active",
            "is_active": True,
            "is_trial": False,
            "pack_name": "Stand-in",
            "expire_at": iso(expires),
            "last_payment_at": iso(now - dt.timedelta(days=1)),
            "days_until_expiry": 30,
            "created_at": iso(now - dt.timedelta(days=365)),
            "pack": {
                "name": "Stand-in",
                "max_concurrent_runs_limit": world.concurrency,
                "max_concurrent_chat_runs_limit": world.concurrency,
                "max_agents_limit": 20,
                "max_members_limit": 10,
                "max_projects_limit": 10,
                "billing_type": "credits",
                "subscription_overage": "0.08",
            },
        },
        "created_at": iso(now - dt.timedelta(days=365)),
        "updated_at": iso(now),
    }


# --- export and the JSON-spec run -------------------------------------------------------------


def export_spec(world: World, specs: list[ScenarioSpec], name: str) -> dict[str, Any]:
    """`export_type=json`: a test-suite spec that `run_scenarios_json` accepts back."""
    return {
        "version": "1",
        "name": name,
        "scenarios": [
            {
                "name": spec.name,
                "instructions": spec.instructions,
                "expected_outcome": spec.expected_outcome_prompt,
                "metrics": [spec.failing_metric, LATENCY_METRIC],
                "personality": world.default_personality(spec).id,
                "tags": list(spec.tags),
                "folder_path": spec.folder_path,
            }
            for spec in specs
        ],
    }


def export_csv(world: World, specs: list[ScenarioSpec]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name", "instructions", "expected_outcome", "tags", "folder_path"])
    for spec in specs:
        writer.writerow(
            [
                spec.id,
                spec.name,
                spec.instructions,
                spec.expected_outcome_prompt,
                ",".join(spec.tags),
                spec.folder_path or "",
            ]
        )
    return out.getvalue()


def dry_run_plan(
    world: World,
    *,
    agent: int,
    channel: str,
    name: str | None,
    plans: list[RunPlan],
    frequency: int,
) -> dict[str, Any]:
    """`run_scenarios_json?dry_run=true`: what would run and what it would cost, nothing created.

    The SDK documents the answer as `{"dry_run": true, "valid": true, "plan": …}`; the plan's
    fields are the stand-in's reading of "test cases, total runs, estimated cost"."""
    cases: dict[str, dict[str, Any]] = {}
    for plan in plans:
        case = cases.setdefault(plan.scenario.name, {"name": plan.scenario.name, "runs": 0})
        case["runs"] += frequency
        case["estimated_cost"] = case.get("estimated_cost", 0.0) + frequency * world.cost_of(
            plan.scenario
        )
    total = sum(case["estimated_cost"] for case in cases.values())
    return {
        "dry_run": True,
        "valid": True,
        "plan": {
            "agent_id": agent,
            "channel": channel,
            "name": name,
            "test_cases": [
                {**case, "estimated_cost": _money(case["estimated_cost"])}
                for case in cases.values()
            ],
            "test_cases_count": len(cases),
            "frequency": frequency,
            "total_runs": len(plans) * frequency,
            "estimated_cost": _money(total),
            "currency": "credits",
        },
    }
