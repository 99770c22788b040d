"""Cekura's own published clients against the stand-in, unmodified.

The `sdk`-marked tests drive it with the `cekura` package from PyPI (pinned in the `test` extra):
its SDK and its CLI, which send paths without the trailing slash and use `-external` aliases.
Run them alone with `pytest -m sdk`. The others replay, request for request, what Cekura's
composite GitHub action and its run-batch script send (cekura-ai/cekura-github-actions) and
read back what those scripts read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from cekura_ci.emulator.server import EmulatorServer
from tests.helpers import API_KEY, scenario

V1 = "/test_framework/v1"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}


class SteppingClock:
    """Emulated time that moves on each time the stand-in looks, so pollers that do not sleep
    (the SDK's `wait(poll_interval=0)`) still see a run through; it stops a runaway loop."""

    def __init__(self, step: float, limit: int = 2000) -> None:
        self.t = 0.0
        self.step = step
        self.looks = 0
        self.limit = limit

    def __call__(self) -> float:
        self.looks += 1
        if self.looks > self.limit:
            raise RuntimeError("the client never stopped polling")
        self.t += self.step
        return self.t


@pytest.fixture
def world(make_world):
    return make_world(
        [
            scenario(101, tags=["booking"], folder_path="Booking.Inbound", duration=60),
            scenario(102, outcome=["pass", "fail"], metric_type="binary_workflow_adherence"),
        ],
        personalities=[{"id": 1, "name": "Normal Female"}, {"id": 2, "name": "Impatient"}],
        past_results=[
            {"name": f"nightly {i:02}", "agent": 42, "age": f"{i + 1}d"} for i in range(23)
        ],
    )


@pytest.fixture
def stand_in(world, serve) -> EmulatorServer:
    return serve(world, clock=SteppingClock(step=10))


# --- the SDK -----------------------------------------------------------------------------------


@pytest.fixture
def sdk(stand_in):
    cekura = pytest.importorskip("cekura")
    with cekura.Cekura(api_key=API_KEY, base_url=stand_in.url) as client:
        yield client


@pytest.mark.sdk
def test_sdk_when_it_starts_a_livekit_run_watches_it_to_the_end_and_reads_it(sdk, stand_in) -> None:
    started = sdk.scenarios.run_livekit_v2(
        agent=42,
        scenarios=[{"scenario": 101}, {"scenario": 102}],
        frequency=2,
        personality_ids=[1, 2],
        name="sdk run",
    )
    assert started["status"] == "pending" and len(started["runs"]) == 8
    final = sdk.results.wait(started["id"], poll_interval=0, timeout=1)
    assert final["status"] == "completed"
    result = sdk.results.get(started["id"])
    assert len(result["runs"]) == 8 and result["scenarios"][0] == {
        "id": 101,
        "name": "Scenario 101",
    }
    assert {r["personality_name"] for r in result["runs"].values()} == {
        "Normal Female",
        "Impatient",
    }
    assert result["met_expected_outcome_count"] == 6
    paths = [(r.method, r.path) for r in stand_in.requests]
    assert paths[0] == ("POST", f"{V1}/scenarios-external/run_scenarios_livekit_v2")
    assert paths[-1] == ("GET", f"{V1}/results/{started['id']}")
    assert {r.status for r in stand_in.requests} == {200}


@pytest.mark.sdk
def test_sdk_when_it_lists_results_gets_every_one_across_pages(sdk) -> None:
    seen, page = [], 1
    while True:
        answer = sdk.results.list(agent_id=42, page=page, page_size=10)
        seen += [row["id"] for row in answer["results"]]
        if not answer["next"]:
            break
        page += 1
    assert page == 3 and len(seen) == len(set(seen)) == answer["count"] == 23
    assert sdk.results.list(search="NIGHTLY 07")["count"] == 1


@pytest.mark.sdk
def test_sdk_when_it_reads_runs_scenarios_billing_and_prices_a_spec(sdk) -> None:
    started = sdk.scenarios.run_livekit_v2(agent=42, scenarios=[{"scenario": 101}])
    sdk.results.wait(started["id"], poll_interval=0, timeout=1)
    run_id = started["runs"][0]["id"]
    [run] = sdk.runs.bulk(run_ids=str(run_id))
    assert run["id"] == run_id and run["status"] == "completed"
    assert [r["id"] for r in sdk.runs.list(result_id=started["id"])["results"]] == [run_id]
    booking = sdk.scenarios.list(agent_id=42, tags="booking", folder_path="Booking")
    assert [s["id"] for s in booking["results"]] == [101]
    assert sdk.scenarios.get(102)["name"] == "Scenario 102"
    spec = sdk.scenarios.export([101, 102], agent_id=42, export_type="json")
    priced = sdk.scenarios.run_json(spec, agent_id=42, channel="livekit_v2", dry_run=True)
    assert priced["dry_run"] is True and priced["valid"] is True
    assert priced["plan"]["total_runs"] == 2
    assert float(sdk.billing.info()["credits_remaining"]) < 5000
    link = sdk.results.create_shareable_link_token(started["id"], expire_at="2030-01-01T00:00:00Z")
    assert link["shareable_link"].endswith(link["token"])
    assert sdk.results.end_calls(started["id"]) == {}  # 200 without a body


@pytest.mark.sdk
def test_sdk_when_the_key_is_wrong_or_the_result_unknown_raises_its_own_errors(stand_in) -> None:
    cekura = pytest.importorskip("cekura")
    with (
        cekura.Cekura(api_key="wrong", base_url=stand_in.url) as client,
        pytest.raises(cekura.AuthenticationError),
    ):
        client.results.list()
    with (
        cekura.Cekura(api_key=API_KEY, base_url=stand_in.url) as client,
        pytest.raises(cekura.NotFoundError),
    ):
        client.results.get(1)


@pytest.fixture
def cekura_cli(stand_in, tmp_path: Path) -> Callable[..., Any]:
    """The `cekura` command, configured only through its environment variables."""
    pytest.importorskip("cekura.cli.main")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CEKURA_API_KEY": API_KEY,
        "CEKURA_API_URL": stand_in.url,
        "COLUMNS": "200",
    }

    def run(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-c", "from cekura.cli.main import app; app()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    return run


@pytest.mark.sdk
def test_cli_when_pointed_at_the_stand_in_lists_every_page_and_reports_a_result(
    cekura_cli, stand_in
) -> None:
    """`cekura run list --all` follows the `next` links; `cekura run status` reads a result."""
    listed = cekura_cli("run", "list", "--agent-id", "42", "--all", "--format", "json")
    assert len(listed) == 23 and len({row["id"] for row in listed}) == 23
    status = cekura_cli("run", "status", str(listed[0]["id"]), "--format", "json")
    assert status["status"] == "completed" and status["total_runs_count"] == 2


# --- Cekura's composite action and run-batch script, replayed ---------------------------------


def test_composite_action_requests_when_replayed_start_watch_and_share_a_run(world, serve) -> None:
    """Its livekit_v2 step: the agent id as a JSON string, the `-external` path, then what it reads."""
    server = serve(world.model_copy(update={"speed": 10_000_000}))
    payload = (
        '{"agent":"42","frequency":2,"scenarios":[{"scenario":101},{"scenario":102}],'
        '"livekit_data":{"agent_name":"kit","config":{"empty_timeout":300}},"name":"PR 7"}'
    )
    started = requests.post(
        server.url + f"{V1}/scenarios-external/run_scenarios_livekit_v2/",
        data=payload,
        headers={**HEADERS, "Content-Type": "application/json"},
        timeout=5,
    )
    assert started.status_code in (200, 201), started.text
    result_id = started.json().get("id")
    status = requests.get(server.url + f"{V1}/results/{result_id}/", headers=HEADERS, timeout=5)
    assert status.status_code == 200
    data = status.json()
    assert data.get("status") == "completed"
    # What the step prints and decides on, read the way it reads them.
    assert f"{data.get('success_rate', 0):.1f}" == "75.0"
    assert [
        f"{s.get('name', 'Unknown')} (ID: {s.get('id', 'N/A')})" for s in data["scenarios"]
    ] == [
        "Scenario 101 (ID: 101)",
        "Scenario 102 (ID: 102)",
    ]
    assert int(str(data.get("failed_runs_count", 0))) > 0
    assert data.get("total_duration") and int(str(data.get("total_runs_count", 0))) == 4
    expire_at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    shared = requests.post(
        server.url + f"{V1}/results/{result_id}/create_shareable_link_token/",
        data=json.dumps({"expire_at": expire_at}),
        headers={**HEADERS, "Content-Type": "application/json"},
        timeout=5,
    )
    assert shared.status_code == 200 and shared.json().get("shareable_link")


def _urllib(server: EmulatorServer, method: str, path: str, payload: Any = None) -> Any:
    """A request as run-batch makes it: urllib, a Content-Type only when there is a body."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"X-CEKURA-API-KEY": API_KEY}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(server.url + path, data, headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback http
        return answer.status, answer.read()


def test_run_batch_requests_when_replayed_start_poll_end_and_share(world, serve) -> None:
    """Its livekit_v2 group: integers, `concurrency_limit`, polling until a terminal status."""
    server = serve(world.model_copy(update={"speed": 10_000_000}))
    payload = {
        "agent": 42,
        "scenarios": [{"scenario": 101}, {"scenario": 102}],
        "frequency": 2,
        "name": "GitHub run 77 · smoke",
        "concurrency_limit": 2,
        "livekit_data": {"agent_name": "kit"},
    }
    status, body = _urllib(
        server, "POST", f"{V1}/scenarios-external/run_scenarios_livekit_v2/", payload
    )
    result_id = json.loads(body).get("id")
    assert status == 200 and result_id
    _, body = _urllib(server, "GET", f"{V1}/results/{result_id}/")
    result = json.loads(body)
    assert result.get("status") in {"completed", "failed", "timeout", "cancelled"}
    total, passed = (
        int(result.get("total_runs_count") or 0),
        int(result.get("success_runs_count") or 0),
    )
    # `success_runs_count` counts terminal runs, as the document says, so the script's
    # "all passed" check (passed == total) reads 4/4 although one run failed its metric.
    assert (total, passed) == (4, 4) and result["met_expected_outcome_count"] == 3
    # Its reasons for a failed run: binary* metrics scored 0 by score_normalized.
    failed = [r for r in result["runs"].values() if not r["success"]]
    metric = failed[0]["evaluation"]["metrics"][0]
    assert str(metric["type"]).startswith("binary") and metric.get("score_normalized") == 0
    status, body = _urllib(server, "POST", f"{V1}/results/{result_id}/end_calls/")
    assert (status, body) == (200, b"")  # documented: no body (run-batch then fails to parse it)
    _, body = _urllib(
        server,
        "POST",
        f"{V1}/results/{result_id}/create_shareable_link_token/",
        {"expire_at": "2030-01-01T00:00:00Z"},
    )
    assert json.loads(body).get("shareable_link")
