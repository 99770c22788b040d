"""Results in the stand-in: every documented status, personalities × profiles, the detail's
fields, earlier results, and the results and runs lists with their filters and order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from cekura_ci.emulator.server import EmulatorServer
from tests.helpers import API_KEY, FakeClock, scenario

V1 = "/test_framework/v1"
RUN = f"{V1}/scenarios/run_scenarios_livekit_v2/"
RESULTS = f"{V1}/results/"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def start(server: EmulatorServer, **body: Any) -> dict[str, Any]:
    payload = {"agent": 42, "scenarios": [{"scenario": 101}], **body}
    answer = requests.post(server.url + RUN, json=payload, headers=HEADERS, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def get(server: EmulatorServer, path: str, **params: Any) -> Any:
    answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def detail(server: EmulatorServer, result_id: int) -> dict[str, Any]:
    return get(server, f"{RESULTS}{result_id}/")


def test_result_when_time_passes_goes_through_every_phase_to_completed(make_world, serve) -> None:
    """pending → in_queue → scaling_up → in_progress → running → evaluating → completed."""
    clock = FakeClock()
    timing = {"pending": 2, "in_queue": 3, "scaling_up": 3, "in_progress": 2, "evaluating": 10}
    server = serve(make_world([scenario(101, duration=60)], timing=timing), clock=clock.now)
    result_id = start(server)["id"]
    seen = []
    for moment in (0, 3, 6, 9, 11, 75, 90):
        clock.t = moment
        seen.append(detail(server, result_id)["status"])
    assert seen == [
        "pending", "in_queue", "scaling_up", "in_progress", "running", "evaluating", "completed",
    ]  # fmt: skip
    [(key, run)] = detail(server, result_id)["runs"].items()
    assert key == str(run["id"]) and run["success"] is True and run["duration"] == "01:00"
    assert run["evaluation_status"] == "success"


def test_result_when_every_run_never_connects_ends_failed(make_world, serve) -> None:
    """`failed` is an infrastructure verdict: no run held a conversation."""
    clock = FakeClock()
    server = serve(make_world([scenario(101, outcome="error")]), clock=clock.now)
    result_id = start(server, frequency=2)["id"]
    clock.t = 10_000
    data = detail(server, result_id)
    assert data["status"] == "failed"
    assert {r["status"] for r in data["runs"].values()} == {"failed"}
    assert data["failed_reasons"] == [
        {
            "reason": "Could not connect to the LiveKit room: participant never joined.",
            "count": 2,
            "run_ids": [int(k) for k in data["runs"]],
        }
    ]


def test_result_when_past_its_time_limit_ends_timeout_with_its_open_runs(make_world, serve) -> None:
    """Runs done by the limit keep their status; the others end `timeout`, and so does the result."""
    clock = FakeClock()
    world = make_world(
        [scenario(101, duration=30), scenario(102, duration=600)],
        timing={"in_queue": 5, "scaling_up": 5, "evaluating": 10, "result_timeout": 120},
    )
    server = serve(world, clock=clock.now)
    result_id = start(server, scenarios=[{"scenario": 101}, {"scenario": 102}])["id"]
    clock.t = 100
    assert detail(server, result_id)["status"] == "running"
    clock.t = 121
    data = detail(server, result_id)
    by_scenario = {r["scenario"]: r for r in data["runs"].values()}
    assert data["status"] == "timeout"
    assert by_scenario[101]["status"] == "completed" and by_scenario[101]["success"] is True
    assert by_scenario[102]["status"] == "timeout" and by_scenario[102]["error_message"]


def test_run_when_its_call_runs_over_ends_timeout_with_a_transcript(make_world, serve) -> None:
    """A run that times out talked, but was never evaluated; the result still completes."""
    clock = FakeClock()
    server = serve(make_world([scenario(101, outcome="timeout")]), clock=clock.now)
    result_id = start(server)["id"]
    clock.t = 10_000
    data = detail(server, result_id)
    [run] = data["runs"].values()
    assert data["status"] == "completed"
    assert run["status"] == "timeout" and run["transcript_object"] and not run["success"]
    assert run["expected_outcome"] is None and run["evaluation"] == {"metrics": []}


def test_end_calls_when_called_cancels_unfinished_runs(make_world, serve) -> None:
    clock = FakeClock()
    server = serve(make_world([scenario(101, duration=600)]), clock=clock.now)
    result_id = start(server)["id"]
    clock.t = 30
    ended = requests.post(
        server.url + f"{RESULTS}{result_id}/end_calls/", headers=HEADERS, timeout=5
    )
    assert ended.status_code == 200 and ended.content == b""
    clock.t = 31
    data = detail(server, result_id)
    assert data["status"] == "cancelled"
    assert [r["status"] for r in data["runs"].values()] == ["cancelled"]


def test_runs_when_personalities_and_profiles_are_overridden_multiply(make_world, serve) -> None:
    """scenarios × frequency × personalities × profiles, each run saying which it ran as."""
    clock = FakeClock()
    world = make_world(
        [scenario(101, by_personality={3: "fail"}), scenario(102, by_profile={21: "error"})],
        personalities=[{"id": 1, "name": "Normal Female"}, {"id": 3, "name": "Impatient"}],
        test_profiles=[
            {"id": 20, "name": "Existing patient", "information": {"patient": "P-1"}},
            {"id": 21, "name": "New patient"},
        ],
    )
    server = serve(world, clock=clock.now)
    started = start(
        server,
        scenarios=[{"scenario": 101}, {"scenario": 102}],
        frequency=2,
        personality_ids=[1, 3],
        test_profile_ids=[20, 21],
    )
    assert len(started["runs"]) == 2 * 2 * 2 * 2
    clock.t = 10_000
    runs = list(detail(server, started["id"])["runs"].values())
    combos = {(r["scenario"], r["personality_name"], r["test_profile_data"]["name"]) for r in runs}
    assert len(combos) == 8
    assert {r["success"] for r in runs if r["scenario"] == 101 and r["personality"] == 3} == {False}
    assert {
        r["status"] for r in runs if r["test_profile_data"]["id"] == 21 and r["scenario"] == 102
    } == {"failed"}
    assert next(r for r in runs if r["test_profile_data"]["id"] == 20)["test_profile_data"] == {
        "id": 20,
        "name": "Existing patient",
        "information": {"patient": "P-1"},
    }


def test_runs_when_not_overridden_use_the_scenarios_personality_and_no_profile(
    make_world, serve
) -> None:
    server = serve(make_world(personalities=[{"id": 4, "name": "Calm"}]))
    [run] = detail(server, start(server)["id"])["runs"].values()
    assert (run["personality"], run["personality_name"], run["test_profile_data"]) == (
        4,
        "Calm",
        None,
    )


def test_detail_when_finished_fills_the_fields_a_client_reads(make_world, serve) -> None:
    """metric_summary, failed_reasons, agent_version, evaluation_status, score_normalized, …"""
    clock = FakeClock()
    world = make_world(
        [
            scenario(101, tags=["booking"]),
            scenario(
                102,
                outcome="fail",
                failing_metric="Fee disclosed",
                metric_type="binary_qualitative",
            ),
        ],
        agents=[{"id": 42, "agent_name": "Test agent", "agent_version": "v7"}],
    )
    server = serve(world, clock=clock.now)
    result_id = start(server, scenarios=[{"scenario": 101}, {"scenario": 102}])["id"]
    clock.t = 10_000
    data = detail(server, result_id)
    assert data["agent_version"] == "v7" and data["is_cronjob"] is False
    assert data["scenarios"] == [
        {"id": 101, "name": "Scenario 101"},
        {"id": 102, "name": "Scenario 102"},
    ]
    summary = data["overall_evaluation"]["metric_summary"]
    fee = next(m for m in summary.values() if m["name"] == "Fee disclosed")
    assert fee["type"] == "binary_qualitative" and fee["score"] == 0
    assert data["overall_evaluation"]["worst_performing_metrics"]["binary_adherence"] == [fee["id"]]
    assert data["failed_reasons"][0]["reason"] == "Fee disclosed: not met"
    failed = next(r for r in data["runs"].values() if r["scenario"] == 102)
    assert failed["evaluation_status"] == "failure"
    metric = failed["evaluation"]["metrics"][0]
    assert (metric["type"], metric["score"], metric["score_normalized"]) == (
        "binary_qualitative",
        0,
        0.0,
    )
    assert any(line.startswith("❌") for line in failed["expected_outcome"]["explanation"])
    assert data["runs_by_tags"] == {"booking": {"total": 1, "success": 1}}
    # As the document warns: terminal runs, whether they passed or not; the passes are "met".
    assert (data["success_runs_count"], data["met_expected_outcome_count"]) == (2, 1)
    assert data["success_rate"] == 50.0


@pytest.mark.parametrize(("counts", "expected"), [("number", 2), ("string", "2")])
def test_counts_when_the_world_types_them_are_numbers_or_strings(
    make_world, serve, counts, expected
) -> None:
    server = serve(make_world(counts=counts))
    result_id = start(server, frequency=2)["id"]
    assert detail(server, result_id)["total_runs_count"] == expected
    assert get(server, RESULTS)["results"][0]["total_runs_count"] == expected


def past(name: str, age: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "agent": 42, "age": age, **extra}


def test_earlier_results_when_declared_are_served_like_real_ones(make_world, serve) -> None:
    """Created `age` before the stand-in started, frozen in their status, ids below new ones."""
    world = make_world(
        past_results=[
            past("main 1", "1d", outcomes={"102": ["pass", "fail"]}, frequency=2),
            past("main 2", "3d 12h", scenarios=[101]),
            past("main now", "10m", status="running"),
        ]
    )
    server = serve(world, wall=lambda: NOW)
    rows = get(server, RESULTS)["results"]
    assert [(r["name"], r["status"]) for r in rows] == [
        ("main now", "running"),
        ("main 1", "completed"),
        ("main 2", "completed"),
    ]
    assert [r["created_at"] for r in rows] == [
        "2026-06-01T11:50:00Z",
        "2026-05-31T12:00:00Z",
        "2026-05-29T00:00:00Z",
    ]
    one = detail(server, rows[1]["id"])
    outcomes = sorted((r["scenario"], r["success"]) for r in one["runs"].values())
    assert outcomes == [(101, True), (101, True), (102, False), (102, True)]
    assert {r["status"] for r in detail(server, rows[0]["id"])["runs"].values()} == {"running"}
    assert start(server)["id"] > max(r["id"] for r in rows)


def names(server: EmulatorServer, **params: Any) -> list[str]:
    return [r["name"] for r in get(server, RESULTS, **params)["results"]]


def test_results_list_when_searched_matches_part_of_the_name_in_any_case(make_world, serve) -> None:
    prefix = "cekura-ci · acme/app · main · "
    world = make_world(
        past_results=[
            past(prefix + "abc · run 1.1", "2d"),
            past("cekura-ci · acme/app · feature/main-fix · def", "1d"),
            past("nightly", "3d"),
        ]
    )
    server = serve(world)
    assert names(server, search=prefix.upper()) == [prefix + "abc · run 1.1"]
    assert names(server, search="NIGHT") == ["nightly"]


def test_results_list_when_the_world_searches_by_terms_matches_looser(make_world, serve) -> None:
    """DRF's SearchFilter semantics: every term somewhere in the name (a trap for exact names)."""
    world = make_world(
        search="terms",
        past_results=[
            past("cekura-ci · acme/app · main · abc", "2d"),
            past("cekura-ci · acme/app · feature/main-fix · def", "1d"),
        ],
    )
    server = serve(world)
    assert len(names(server, search="cekura-ci · acme/app · main")) == 2


def test_results_list_when_filtered_by_agent_project_and_scenarios(make_world, serve) -> None:
    """`scenarios` repeats a result once per matching run, as the document warns."""
    world = make_world(
        [scenario(101), scenario(102), scenario(201, agent=43)],
        agents=[
            {"id": 42, "agent_name": "A", "project": 1},
            {"id": 43, "agent_name": "B", "project": 2},
        ],
        past_results=[
            past("a", "1d", frequency=2),
            {"name": "b", "agent": 43, "age": "2d"},
        ],
    )
    server = serve(world)
    assert names(server, agent_id=43) == ["b"] and names(server, project_id=1) == ["a"]
    assert names(server, scenarios="102") == ["a", "a"]
    assert names(server, scenarios="201,999") == ["b"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [("newest", ["r3", "r2", "r1"]), ("oldest", ["r1", "r2", "r3"])],
)
def test_results_list_when_the_world_orders_it_serves_that_order(
    make_world, serve, order, expected
) -> None:
    world = make_world(
        results_order=order, past_results=[past(f"r{i}", f"{10 - i}h") for i in (1, 2, 3)]
    )
    assert names(serve(world)) == expected


def test_results_list_when_shuffled_is_stable_across_pages(make_world, serve) -> None:
    """No client may rely on the order; paging still gives every result exactly once."""
    world = make_world(
        results_order="shuffled",
        seed=3,
        past_results=[past(f"r{i:02}", f"{i}h") for i in range(12)],
    )
    server = serve(world)
    seen = [n for p in (1, 2, 3) for n in names(server, page=p, page_size=5)]
    assert sorted(seen) == sorted(f"r{i:02}" for i in range(12))
    assert seen != sorted(seen) and seen != sorted(seen, reverse=True)
    assert seen == [n for p in (1, 2, 3) for n in names(server, page=p, page_size=5)]


def test_runs_list_when_filtered_finds_the_runs_of_a_result(make_world, serve) -> None:
    clock = FakeClock()
    server = serve(make_world([scenario(101), scenario(102, outcome="fail")]), clock=clock.now)
    started = start(server, scenarios=[{"scenario": 101}, {"scenario": 102}], frequency=2)
    start(server)
    clock.t = 10_000

    def ids(**params: Any) -> list[int]:
        return sorted(r["id"] for r in get(server, f"{V1}/runs/", **params)["results"])

    mine = sorted(run["id"] for run in started["runs"])
    assert ids(result_id=started["id"]) == mine == ids(result__id=started["id"])
    assert ids(result_id=started["id"], success="false") == mine[1::2]
    assert ids(scenario__id=102) == mine[1::2] == ids(scenarios="102")
    assert ids(status="completed", id__in=",".join(map(str, mine[:2]))) == mine[:2]
    assert ids(search="scenario 102") == mine[1::2]
    assert ids(agent_id=7) == []


def test_runs_bulk_when_asked_answers_each_run_in_the_order_given(make_world, serve) -> None:
    clock = FakeClock()
    server = serve(make_world(), clock=clock.now)
    started = start(server, scenarios=[{"scenario": 101}, {"scenario": 102}])
    clock.t = 10_000
    wanted = [started["runs"][1]["id"], 1, started["runs"][0]["id"]]
    runs = get(server, f"{V1}/runs/bulk/", run_ids=",".join(map(str, wanted)))
    assert [r["id"] for r in runs] == [wanted[0], wanted[2]]
    assert runs[0]["result_id"] == started["id"] and runs[0]["status"] == "completed"


def test_result_when_outcomes_vary_shows_failures_errors_and_flakiness(make_world, serve) -> None:
    """A failed metric with its ❌ line, runs that never connected, a flaky pattern per repetition."""
    clock = FakeClock()
    world = make_world(
        [
            scenario(101, outcome="fail", failing_metric="Refund issued"),
            scenario(102, outcome="error"),
            scenario(103, outcome=["pass", "fail"]),
        ]
    )
    server = serve(world, clock=clock.now)
    scenarios = [{"scenario": s} for s in (101, 102, 103)]
    result_id = start(server, scenarios=scenarios, frequency=2)["id"]
    clock.t = 10_000
    by_scenario: dict[int, list[dict[str, Any]]] = {}
    for run in detail(server, result_id)["runs"].values():
        by_scenario.setdefault(run["scenario"], []).append(run)
    failed = by_scenario[101][0]
    assert failed["success"] is False and failed["evaluation"]["metrics"][0]["score"] == 0
    assert failed["evaluation"]["metrics"][0]["name"] == "Refund issued"
    assert any(line.startswith("❌") for line in failed["expected_outcome"]["explanation"])
    assert all(
        r["status"] == "failed" and r["error_message"] and not r["transcript_object"]
        for r in by_scenario[102]
    )
    assert [r["success"] for r in sorted(by_scenario[103], key=lambda r: r["id"])] == [True, False]


def test_results_list_when_filtered_and_paged_answers_like_the_api(make_world, serve) -> None:
    server = serve(make_world())
    for name in ("nightly a", "nightly b", "pr 7"):
        start(server, name=name)
    page = get(server, RESULTS, search="nightly", agent_id=42, page_size=1)
    assert page["count"] == 2 and len(page["results"]) == 1 and "page=2" in page["next"]
    assert requests.get(page["next"], headers=HEADERS, timeout=5).json()["results"][0]["name"] == (
        "nightly a"
    )
    assert get(server, RESULTS, agent_id=5) == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
