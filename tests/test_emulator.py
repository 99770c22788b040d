"""The stand-in: real HTTP on loopback, the API's status codes, lifecycle, faults and request log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from cekura_ci.emulator.world import demo_world, load_world
from tests.helpers import API_KEY, FakeClock, scenario

RUN = "/test_framework/v1/scenarios/run_scenarios_livekit_v2/"
RESULTS = "/test_framework/v1/results/"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}


def post_run(server, body=None, headers=HEADERS):
    body = (
        body
        if body is not None
        else {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 1, "name": "r"}
    )
    return requests.post(server.url + RUN, json=body, headers=headers, timeout=5)


def test_trigger_when_valid_answers_pending_runs_as_a_list(make_world, serve) -> None:
    server = serve(make_world())
    answer = post_run(
        server, {"agent": 42, "scenarios": [{"scenario": 101}, {"scenario": 102}], "frequency": 2}
    )
    assert answer.status_code == 200
    data = answer.json()
    assert (
        data["status"] == "pending"
        and len(data["runs"]) == 4
        and data["runs"][0]["status"] == "pending"
    )


def test_requests_when_key_missing_or_wrong_get_401(make_world, serve) -> None:
    server = serve(make_world())
    assert post_run(server, headers={}).json() == {
        "detail": "Authentication credentials were not provided."
    }
    wrong = post_run(server, headers={"X-CEKURA-API-KEY": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid API key."}


def test_trigger_when_body_is_wrong_answers_400_field_messages(make_world, serve) -> None:
    """Like Django REST framework: {field: [messages]}."""
    server = serve(make_world())
    cases = [
        ({"agent": 42}, {"scenarios": ["This field is required."]}),
        (
            {"agent": 42, "scenarios": [{"scenario": "x"}]},
            {"scenarios": ["A valid integer is required."]},
        ),
        (
            {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 0},
            {"frequency": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 101},
            {"frequency": ["Ensure this value is less than or equal to 100."]},
        ),
        (
            {"agent": 42, "scenarios": [{"scenario": 999}]},
            {"scenarios": ['Invalid pk "999" - object does not exist.']},
        ),
        (
            {"agent": 7, "scenarios": [{"scenario": 101}]},
            {"agent": ['Invalid pk "7" - object does not exist.']},
        ),
        ({"agent": 42, "scenarios": []}, {"scenarios": ["This list may not be empty."]}),
    ]
    for body, expected in cases:
        answer = post_run(server, body)
        assert (answer.status_code, answer.json()) == (400, expected), body


def test_result_when_unknown_is_404(make_world, serve) -> None:
    server = serve(make_world())
    answer = requests.get(server.url + RESULTS + "12345/", headers=HEADERS, timeout=5)
    assert answer.status_code == 404 and "detail" in answer.json()


def test_result_when_time_passes_moves_through_statuses_to_completed(make_world, serve) -> None:
    """in_queue → scaling_up → running → evaluating → completed, with runs keyed by id strings."""
    clock = FakeClock()
    server = serve(make_world([scenario(101, duration=60)]), clock=clock.now)
    result_id = post_run(server).json()["id"]
    seen = []
    for moment in (0, 6, 12, 75, 90):
        clock.t = moment
        detail = requests.get(
            server.url + RESULTS + f"{result_id}/", headers=HEADERS, timeout=5
        ).json()
        seen.append(detail["status"])
    assert seen == ["in_queue", "scaling_up", "running", "evaluating", "completed"]
    [(key, run)] = detail["runs"].items()
    assert key == str(run["id"]) and run["success"] is True and run["duration"] == "01:00"
    assert (
        detail["total_runs_count"] == "1" and detail["success_runs_count"] == "1"
    )  # strings, as typed


def test_result_when_outcomes_vary_shows_failures_errors_and_flakiness(make_world, serve) -> None:
    clock = FakeClock()
    world = make_world(
        [
            scenario(101, outcome="fail", failing_metric="Refund issued"),
            scenario(102, outcome="error"),
            scenario(103, outcome=["pass", "fail"]),
        ]
    )
    server = serve(world, clock=clock.now)
    body = {"agent": 42, "scenarios": [{"scenario": s} for s in (101, 102, 103)], "frequency": 2}
    result_id = post_run(server, body).json()["id"]
    clock.t = 10_000
    runs = (
        requests.get(server.url + RESULTS + f"{result_id}/", headers=HEADERS, timeout=5)
        .json()["runs"]
        .values()
    )
    by_scenario = {}
    for run in runs:
        by_scenario.setdefault(run["scenario"], []).append(run)
    failed = by_scenario[101][0]
    assert (
        failed["success"] is False
        and failed["evaluation"]["metrics"][0] | {"score": 0} == failed["evaluation"]["metrics"][0]
    )
    assert any(line.startswith("❌") for line in failed["expected_outcome"]["explanation"])
    assert all(
        r["status"] == "failed" and r["error_message"] and not r["transcript_object"]
        for r in by_scenario[102]
    )
    assert [r["success"] for r in sorted(by_scenario[103], key=lambda r: r["id"])] == [True, False]


def test_end_calls_when_called_cancels_unfinished_runs(make_world, serve) -> None:
    clock = FakeClock()
    server = serve(make_world([scenario(101, duration=600)]), clock=clock.now)
    result_id = post_run(server).json()["id"]
    clock.t = 30
    assert (
        requests.post(
            server.url + RESULTS + f"{result_id}/end_calls/", headers=HEADERS, timeout=5
        ).status_code
        == 200
    )
    clock.t = 31
    detail = requests.get(server.url + RESULTS + f"{result_id}/", headers=HEADERS, timeout=5).json()
    assert detail["status"] == "cancelled" and [r["status"] for r in detail["runs"].values()] == [
        "cancelled"
    ]


def test_results_list_when_filtered_and_paged_answers_like_the_api(make_world, serve) -> None:
    server = serve(make_world())
    for name in ("nightly a", "nightly b", "pr 7"):
        post_run(server, {"agent": 42, "scenarios": [{"scenario": 101}], "name": name})
    page = requests.get(
        server.url + RESULTS,
        params={"search": "nightly", "agent_id": 42, "page_size": 1},
        headers=HEADERS,
        timeout=5,
    ).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and "page=2" in page["next"]
    assert (
        requests.get(page["next"], headers=HEADERS, timeout=5).json()["results"][0]["name"]
        == "nightly a"
    )
    none = requests.get(
        server.url + RESULTS, params={"agent_id": 5}, headers=HEADERS, timeout=5
    ).json()
    assert none == {"count": 0, "next": None, "previous": None, "results": []}


def test_scenarios_when_filtered_by_tags_folder_and_agent(make_world, serve) -> None:
    world = make_world(
        [
            scenario(1, tags=["a", "b"], folder_path="Sales.Inbound"),
            scenario(2, tags=["b"]),
            scenario(3),
        ]
    )
    server = serve(world)

    def ids(**params):
        answer = requests.get(
            server.url + "/test_framework/v1/scenarios/", params=params, headers=HEADERS, timeout=5
        ).json()
        return [s["id"] for s in answer["results"]]

    assert ids(tags="a,b", tag_filter_type="and") == [1]
    assert ids(tags="a,b") == [1, 2]
    assert ids(tags="b", tag_filter_type="not") == [3]
    assert ids(folder_path="Sales.Inbound") == [1] and ids(folder_path="") == [2, 3]
    assert ids(agent_id=42, page_size=2) == [1, 2]
    detail = requests.get(
        server.url + "/test_framework/v1/scenarios/2/", headers=HEADERS, timeout=5
    ).json()
    assert detail["id"] == 2 and detail["tags"] == ["b"]
    agent = requests.get(
        server.url + "/test_framework/v1/aiagents/42/", headers=HEADERS, timeout=5
    ).json()
    assert agent["agent_name"] == "Test agent"


def test_faults_when_declared_hit_the_given_requests(make_world, serve) -> None:
    """5xx with Retry-After, HTML, a cut-off body, a dropped connection, a slow answer."""
    faults = [
        {"endpoint": "agent", "at": [1], "kind": "status", "status": 429, "retry_after": 7},
        {"endpoint": "agent", "at": [2], "kind": "html"},
        {"endpoint": "agent", "at": [3], "kind": "truncated"},
        {"endpoint": "agent", "at": [4], "kind": "drop"},
        {"endpoint": "agent", "at": [5], "kind": "slow", "delay": 0.3},
    ]
    server = serve(make_world(faults=faults))
    url = server.url + "/test_framework/v1/aiagents/42/"
    first = requests.get(url, headers=HEADERS, timeout=5)
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert requests.get(url, headers=HEADERS, timeout=5).headers["Content-Type"] == "text/html"
    try:
        json.loads(requests.get(url, headers=HEADERS, timeout=5).text)
        raise AssertionError("the body should be cut off")
    except json.JSONDecodeError:
        pass
    try:
        requests.get(url, headers=HEADERS, timeout=5)
        raise AssertionError("the connection should be dropped")
    except requests.ConnectionError:
        pass
    started = time.monotonic()
    assert (
        requests.get(url, headers=HEADERS, timeout=5).status_code == 200
        and time.monotonic() - started >= 0.3
    )
    assert requests.get(url, headers=HEADERS, timeout=5).status_code == 200
    assert [r.fault for r in server.requests] == [
        "status",
        "html",
        "truncated",
        "drop",
        "slow",
        None,
    ]


def test_request_log_when_read_over_http_lists_what_was_sent(make_world, serve) -> None:
    server = serve(make_world())
    post_run(server)
    log = requests.get(server.url + "/_emulator/requests", timeout=5).json()
    assert (
        log[0]["endpoint"] == "trigger"
        and log[0]["authorized"] is True
        and log[0]["body"]["name"] == "r"
    )
    assert API_KEY not in json.dumps(log)


def test_world_when_written_in_yaml_loads(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "agents": [{"id": 1, "agent_name": "A"}],
                "scenarios": [{"id": 5, "name": "S", "agent": 1, "outcome": "flaky"}],
            }
        )
    )
    world = load_world(path)
    assert world.scenarios[0].outcome_of(1) == "pass" and world.scenarios[0].outcome_of(2) == "fail"


def test_demo_world_when_loaded_has_a_failing_and_a_flaky_scenario() -> None:
    outcomes = {tuple(s.outcome) for s in demo_world().scenarios}
    assert ("fail",) in outcomes and any("pass" in o and "fail" in o for o in outcomes)


def test_emulator_command_when_started_prints_its_port_and_serves(tmp_path: Path) -> None:
    """`cekura-ci emulator --port 0` picks a free port and says which."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cekura_ci", "emulator", "--port", "0", "--api-key", "k1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        url = line.split("listening on ")[1].split(" ")[0]
        assert (
            requests.get(
                url + "/test_framework/v1/aiagents/42/",
                headers={"X-CEKURA-API-KEY": "k1"},
                timeout=5,
            ).status_code
            == 200
        )
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_demo_command_when_run_finishes_and_writes_the_summary(tmp_path: Path) -> None:
    """README command one: the real gate against the built-in world, no account, no network."""
    process = subprocess.run(
        [sys.executable, "-m", "cekura_ci", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "Demo done: the gate failed" in process.stdout and "retrying in" in process.stdout
    summary = (tmp_path / "cekura-demo-summary.md").read_text()
    assert summary.startswith("## ❌ Cekura gate failed") and "*(flaky)*" in summary
