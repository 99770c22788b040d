"""The contract: what the client sends and what the stand-in answers validate against the OpenAPI
subset of Cekura's public API (tests/data/cekura-openapi-subset.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cekura_ci.settings import Settings
from cekura_ci.trigger import run_request
from tests.helpers import API_KEY, FakeClock, scenario


def _honour_nullable(node: Any) -> Any:
    """The 3.1 document still says `nullable: true` (OpenAPI 3.0) in places; JSON Schema ignores
    that keyword, so read it as its authors meant it: null is allowed."""
    if isinstance(node, dict):
        node = {k: _honour_nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_honour_nullable(v) for v in node]
    return node


SPEC = _honour_nullable(
    json.loads((Path(__file__).parent / "data" / "cekura-openapi-subset.json").read_text())
)
REGISTRY = Registry().with_resource(
    "urn:cekura", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
API = "/test_framework/v1"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    Draft202012Validator(schema, registry=REGISTRY).validate(instance)


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"urn:cekura#/components/schemas/{name}"}


def answer_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
    pointer = "/".join(
        p.replace("~", "~0").replace("/", "~1")
        for p in ("paths", path, method, "responses", status)
    )
    return {"$ref": f"urn:cekura#/{pointer}/content/application~1json/schema"}


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {"frequency": "100", "scenario_ids": "1,2,3"},
        {
            "personality_ids": "3,7",
            "test_profile_ids": "20",
            "mock_tool_names": "a, b",
            "concurrency_limit": "4",
            "livekit_data": '{"agent_name": "kit", "url": "wss://lk.example", "config": {"empty_timeout": 300}}',
        },
        {"mock_tool_names": "[]"},
    ],
)
def test_run_request_when_built_from_any_inputs_validates(inputs: dict[str, str]) -> None:
    settings = Settings.from_inputs(
        {
            "api_key": "ck_test_settings_key",
            "agent_id": "42",
            "scenario_ids": "101",
            "name": "n",
            **inputs,
        }
    )
    validate(run_request(settings), component("RunLivekitScenarios"))


def test_share_link_request_when_built_validates() -> None:
    validate(
        {"expire_at": "2026-12-01T00:00:00+00:00"}, component("SchemaPostCreateShareableLinkToken")
    )


@pytest.fixture
def world_server(make_world, serve):
    clock = FakeClock()
    world = make_world(
        [scenario(101), scenario(102, outcome="fail"), scenario(103, outcome="error")]
    )
    return serve(world, clock=clock.now), clock


def test_emulator_answers_when_a_run_goes_through_its_life_validate(world_server) -> None:
    server, clock = world_server
    trigger = requests.post(
        server.url + f"{API}/scenarios/run_scenarios_livekit_v2/",
        json={
            "agent": 42,
            "scenarios": [{"scenario": s} for s in (101, 102, 103)],
            "frequency": 2,
            "name": "contract",
        },
        headers=HEADERS,
        timeout=5,
    )
    validate(trigger.json(), answer_schema(f"{API}/scenarios/run_scenarios_livekit_v2/", "post"))
    result_id = trigger.json()["id"]
    for moment in (0, 7, 20, 200, 10_000):
        clock.t = moment
        detail = requests.get(
            server.url + f"{API}/results/{result_id}/", headers=HEADERS, timeout=5
        ).json()
        validate(detail, component("ResultDetailV2"))
        for run in detail["runs"].values():
            if run["expected_outcome"]:
                validate(run["expected_outcome"], component("ExpectedOutcome"))
            validate(run["evaluation"], component("Evaluation"))
            for turn in run["transcript_object"]:
                validate(turn, component("RunListTranscriptObject"))
    listing = requests.get(
        server.url + f"{API}/results/", params={"search": "contract"}, headers=HEADERS, timeout=5
    ).json()
    validate(listing, component("PaginatedResultList"))
    link = requests.post(
        server.url + f"{API}/results/{result_id}/create_shareable_link_token/",
        json={},
        headers=HEADERS,
        timeout=5,
    )
    validate(link.json(), component("SchemaCreateShareableLinkTokenResponse"))
    ended = requests.post(
        server.url + f"{API}/results/{result_id}/end_calls/", headers=HEADERS, timeout=5
    )
    assert ended.status_code == 200 and ended.content == b""  # "No response body"


def test_emulator_answers_when_scenarios_and_agents_are_read_validate(world_server) -> None:
    server, _ = world_server
    listing = requests.get(server.url + f"{API}/scenarios/", headers=HEADERS, timeout=5).json()
    validate(listing, component("PaginatedScenarioListList"))
    validate(
        requests.get(server.url + f"{API}/scenarios/101/", headers=HEADERS, timeout=5).json(),
        component("SchemaScenario"),
    )
    validate(
        requests.get(server.url + f"{API}/aiagents/42/", headers=HEADERS, timeout=5).json(),
        component("AIAgent"),
    )


def test_emulator_errors_when_answered_have_the_documented_shapes(world_server) -> None:
    server, _ = world_server
    bad = requests.post(
        server.url + f"{API}/scenarios/run_scenarios_livekit_v2/",
        json={"scenarios": [{"scenario": 999}]},
        headers=HEADERS,
        timeout=5,
    )
    assert bad.status_code == 400
    validate(
        bad.json(),
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    )
    missing = requests.get(server.url + f"{API}/results/424242/", headers=HEADERS, timeout=5)
    validate(missing.json(), answer_schema(f"{API}/results/{{id}}/", "get", "404"))
