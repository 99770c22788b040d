"""The contract: what the client sends and what the stand-in answers validate against the OpenAPI
subset of Cekura's public API (tests/data/cekura-openapi-subset.json), on every served path and
alias, with and without the trailing slash."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cekura_ci.emulator.api import ROUTES
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


DOCUMENT = json.loads((Path(__file__).parent / "data" / "cekura-openapi-subset.json").read_text())
COUNTS = (
    "met_expected_outcome_count", "total_expected_outcome_count", "total_runs_count",
    "completed_runs_count", "success_runs_count", "failed_runs_count",
)  # fmt: skip
SCENARIO_REFS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    },
}
#: Where the document disagrees with itself, the stand-in sends what its examples show (see
#: cekura_ci/emulator/serializers.py); each such field accepts the schema's type or the example's.
EXAMPLE_OVER_SCHEMA: dict[tuple[str, str], dict[str, Any]] = {
    **{("ResultDetailV2", name): {"type": "integer"} for name in COUNTS},
    ("ResultDetailV2", "is_cronjob"): {"type": "boolean"},
    ("ResultDetailV2", "scenarios"): SCENARIO_REFS,
    ("ResultDetailV2", "critical_categories"): {"type": "array"},
    ("ResultDetailV2", "metrics"): {"type": "array"},
    ("ResultDetailV2", "runs_by_tags"): {"type": "object"},
    ("ResultDetailV2", "latency_data"): {"type": "object"},
    # The list's rows come from the same fields as the detail.
    **{("Result", name): {"type": "integer"} for name in COUNTS},
    ("Result", "is_cronjob"): {"type": "boolean"},
    # "The `runs` field is a dict keyed by run ID string … not an array — unlike the list
    # endpoint" (the detail endpoint's description).
    ("Result", "runs"): {"type": "array", "items": {"type": "object"}},
}


def _with_examples(document: dict[str, Any]) -> dict[str, Any]:
    patched = copy.deepcopy(document)
    for (schema, prop), shown in EXAMPLE_OVER_SCHEMA.items():
        properties = patched["components"]["schemas"][schema]["properties"]
        properties[prop] = {"anyOf": [properties[prop], shown]}
    return patched


SPEC = _honour_nullable(_with_examples(DOCUMENT))
REGISTRY = Registry().with_resource(
    "urn:cekura", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
V1 = "/test_framework/v1"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}
#: Served paths the document does not list: each is a path a published client calls, answered
#: like the documented path it stands for.
UNDOCUMENTED_ALIASES = {
    f"{V1}/runs-external": f"{V1}/runs/",  # the SDK's runs.list
    f"{V1}/runs-external/bulk": f"{V1}/runs/bulk/",  # the SDK's runs.bulk
    f"{V1}/scenarios-external/export_scenarios": f"{V1}/scenarios/export_scenarios/",  # export
}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    Draft202012Validator(schema, registry=REGISTRY).validate(instance)


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"urn:cekura#/components/schemas/{name}"}


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def answer_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
    pointer = _pointer("paths", path, method, "responses", status)
    return {"$ref": f"urn:cekura#/{pointer}/content/application~1json/schema"}


def documented_path(served: str) -> str:
    """The document's path for a served path pattern: `(?P<id>…)` is `{id}`, slash added."""
    plain = re.sub(r"\(\?P<id>[^)]*\)", "{id}", served)
    return UNDOCUMENTED_ALIASES.get(plain, plain + "/")


# --- what the client sends ---------------------------------------------------------------------


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


# --- the document itself -----------------------------------------------------------------------


def test_document_when_read_shows_in_its_examples_what_the_stand_in_sends_over_the_schema() -> None:
    """Every exception to the schema is backed by the document's own example or description."""
    example = DOCUMENT["paths"][f"{V1}/results/{{id}}/"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]["Success"]["value"]
    for schema, prop in EXAMPLE_OVER_SCHEMA:
        if schema == "ResultDetailV2":
            shown = example[prop]
            assert shown in ("integer", "boolean", "array", "object") or isinstance(shown, list)
    assert all(example[name] == "integer" for name in COUNTS)
    assert example["is_cronjob"] == "boolean" and example["scenarios"][0] == {
        "id": "integer",
        "name": "string",
    }
    description = DOCUMENT["paths"][f"{V1}/results/{{id}}/"]["get"]["description"]
    assert "not an array — unlike the list endpoint" in description


def test_served_paths_when_compared_with_the_document_cover_it_and_add_only_known_aliases() -> None:
    """Every documented path is served; every other served path is an alias a client calls."""
    served = {documented_path(p) for route in ROUTES for p in route.paths}
    documented = set(DOCUMENT["paths"])
    assert documented <= served
    extra = {re.sub(r"\(\?P<id>[^)]*\)", "{id}", p) for route in ROUTES for p in route.paths} - {
        p.rstrip("/") for p in documented
    }
    assert extra == set(UNDOCUMENTED_ALIASES)
    for route in ROUTES:
        for path in route.paths:
            assert route.method.lower() in DOCUMENT["paths"][documented_path(path)], path


# --- what the stand-in answers, on every path ------------------------------------------------


@pytest.fixture
def world_server(make_world, serve):
    clock = FakeClock()
    world = make_world(
        [
            scenario(101, tags=["a"], folder_path="Sales.Inbound"),
            scenario(102, outcome="fail", metric_type="binary_workflow_adherence"),
            scenario(103, outcome="error"),
            scenario(104, outcome="timeout"),
        ],
        personalities=[{"id": 1, "name": "Normal Female"}, {"id": 3, "name": "Impatient"}],
        test_profiles=[{"id": 20, "name": "Existing patient", "information": {"id": "P-1"}}],
        past_results=[
            {"name": "earlier", "agent": 42, "age": "1d", "outcomes": {"101": "fail"}},
            {"name": "stuck", "agent": 42, "age": "2h", "status": "running"},
        ],
    )
    return serve(world, clock=clock.now), clock


def _served(route_name: str) -> list[str]:
    """Every concrete path of an endpoint (with id 9001 in it), with and without the slash."""
    [route] = [r for r in ROUTES if r.endpoint == route_name]
    paths = [re.sub(r"\(\?P<id>[^)]*\)", "{id}", p) for p in route.paths]
    return [form for p in paths for form in (p + "/", p)]


def _check(answer: requests.Response, path: str, method: str, schema: dict[str, Any]) -> Any:
    """The status is documented for the path, and the body is what the document says."""
    documented = DOCUMENT["paths"][path][method]["responses"]
    assert str(answer.status_code) in documented, (path, answer.status_code, answer.text[:300])
    body = answer.json()
    validate(body, schema)
    return body


def _trigger(server, path: str) -> dict[str, Any]:
    answer = requests.post(
        server.url + path,
        json={
            "agent": "42",
            "scenarios": [{"scenario": s} for s in (101, 102, 103, 104)],
            "frequency": 2,
            "personality_ids": [1, 3],
            "test_profile_ids": [20],
            "name": "contract",
        },
        headers=HEADERS,
        timeout=5,
    )
    doc = f"{V1}/scenarios/run_scenarios_livekit_v2/"
    return _check(answer, doc, "post", answer_schema(doc, "post"))


@pytest.mark.parametrize("path", _served("trigger"))
def test_trigger_answer_when_started_on_any_path_validates(world_server, path: str) -> None:
    server, _ = world_server
    started = _trigger(server, path)
    assert len(started["runs"]) == 4 * 2 * 2
    assert all(run["test_profile_data"]["name"] == "Existing patient" for run in started["runs"])


@pytest.mark.parametrize("path", _served("result"))
def test_result_detail_when_a_run_goes_through_its_life_validates(world_server, path) -> None:
    server, clock = world_server
    result_id = _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")["id"]
    for moment in (0, 7, 20, 200, 10_000):
        clock.t = moment
        answer = requests.get(server.url + path.format(id=result_id), headers=HEADERS, timeout=5)
        detail = _check(answer, f"{V1}/results/{{id}}/", "get", component("ResultDetailV2"))
        for run in detail["runs"].values():
            if run["expected_outcome"]:
                validate(run["expected_outcome"], component("ExpectedOutcome"))
            validate(run["evaluation"], component("Evaluation"))
            if run["test_profile_data"] is not None:
                validate(run["test_profile_data"], component("TestProfileData"))
            for turn in run["transcript_object"]:
                validate(turn, component("RunListTranscriptObject"))
    for earlier in (9000 - 1, 9000):
        answer = requests.get(server.url + path.format(id=earlier), headers=HEADERS, timeout=5)
        _check(answer, f"{V1}/results/{{id}}/", "get", component("ResultDetailV2"))
    missing = requests.get(server.url + path.format(id=424242), headers=HEADERS, timeout=5)
    _check(
        missing,
        f"{V1}/results/{{id}}/",
        "get",
        answer_schema(f"{V1}/results/{{id}}/", "get", "404"),
    )


@pytest.mark.parametrize("counts", ["number", "string"])
def test_result_detail_when_counts_are_typed_either_way_validates(
    make_world, serve, counts
) -> None:
    server = serve(make_world(counts=counts, past_results=[{"name": "p", "agent": 42, "age": 60}]))
    answer = requests.get(server.url + f"{V1}/results/9000/", headers=HEADERS, timeout=5)
    detail = _check(answer, f"{V1}/results/{{id}}/", "get", component("ResultDetailV2"))
    assert detail["total_runs_count"] == (2 if counts == "number" else "2")


@pytest.mark.parametrize("path", _served("results"))
def test_results_list_when_read_on_any_path_validates(world_server, path: str) -> None:
    server, clock = world_server
    _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")
    clock.t = 100
    for params in ({}, {"search": "contract"}, {"page_size": 1, "page": 2}, {"scenarios": "101"}):
        answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
        page = _check(answer, f"{V1}/results/", "get", component("PaginatedResultList"))
        assert page["results"]


@pytest.mark.parametrize("path", _served("end_calls"))
def test_end_calls_when_called_on_any_path_answers_200_without_a_body(world_server, path) -> None:
    server, _ = world_server
    result_id = _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")["id"]
    ended = requests.post(server.url + path.format(id=result_id), headers=HEADERS, timeout=5)
    assert ended.status_code == 200 and ended.content == b""  # "No response body"
    missing = requests.post(server.url + path.format(id=1), headers=HEADERS, timeout=5)
    doc = f"{V1}/results/{{id}}/end_calls/"
    _check(missing, doc, "post", answer_schema(doc, "post", "404"))


@pytest.mark.parametrize("path", _served("share_link"))
def test_share_link_when_made_on_any_path_validates(world_server, path: str) -> None:
    server, _ = world_server
    result_id = _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")["id"]
    doc = f"{V1}/results/{{id}}/create_shareable_link_token/"
    for body in ({}, {"expire_at": "2026-12-01T00:00:00Z"}, {"expire_at": None}):
        link = requests.post(
            server.url + path.format(id=result_id), json=body, headers=HEADERS, timeout=5
        )
        _check(link, doc, "post", component("SchemaCreateShareableLinkTokenResponse"))
    bad = requests.post(
        server.url + path.format(id=result_id),
        json={"expire_at": "next week"},
        headers=HEADERS,
        timeout=5,
    )
    _check(bad, doc, "post", answer_schema(doc, "post", "400"))


@pytest.mark.parametrize("path", _served("runs"))
def test_runs_list_when_read_on_any_path_validates(world_server, path: str) -> None:
    server, clock = world_server
    result_id = _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")["id"]
    for moment in (0, 200, 10_000):
        clock.t = moment
        for params in ({}, {"result_id": result_id, "status": "completed"}, {"success": "false"}):
            answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
            _check(answer, f"{V1}/runs/", "get", component("PaginatedRunListList"))


@pytest.mark.parametrize("path", _served("runs_bulk"))
def test_runs_bulk_when_read_on_any_path_validates(world_server, path: str) -> None:
    server, clock = world_server
    started = _trigger(server, f"{V1}/scenarios/run_scenarios_livekit_v2/")
    ids = ",".join(str(run["id"]) for run in started["runs"])
    schema = {"type": "array", "items": component("Run")}
    for moment in (0, 200, 10_000):
        clock.t = moment
        answer = requests.get(
            server.url + path, params={"run_ids": ids}, headers=HEADERS, timeout=5
        )
        runs = _check(answer, f"{V1}/runs/bulk/", "get", schema)
        assert [run["id"] for run in runs] == [run["id"] for run in started["runs"]]


@pytest.mark.parametrize("path", _served("scenarios"))
def test_scenarios_list_when_read_on_any_path_validates(world_server, path: str) -> None:
    server, _ = world_server
    for params in ({}, {"agent_id": 42, "tags": "a"}, {"folder_path": "Sales"}, {"page_size": 3}):
        answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
        _check(answer, f"{V1}/scenarios/", "get", component("PaginatedScenarioListList"))


@pytest.mark.parametrize("path", _served("scenario"))
def test_scenario_detail_when_read_validates(world_server, path: str) -> None:
    server, _ = world_server
    doc = f"{V1}/scenarios/{{id}}/"
    answer = requests.get(server.url + path.format(id=101), headers=HEADERS, timeout=5)
    _check(answer, doc, "get", component("SchemaScenario"))
    missing = requests.get(server.url + path.format(id=9), headers=HEADERS, timeout=5)
    _check(missing, doc, "get", answer_schema(doc, "get", "404"))


@pytest.mark.parametrize("path", _served("agent"))
def test_agent_detail_when_read_validates(world_server, path: str) -> None:
    server, _ = world_server
    doc = f"{V1}/aiagents/{{id}}/"
    answer = requests.get(server.url + path.format(id=42), headers=HEADERS, timeout=5)
    _check(answer, doc, "get", component("AIAgent"))
    missing = requests.get(server.url + path.format(id=7), headers=HEADERS, timeout=5)
    _check(missing, doc, "get", answer_schema(doc, "get", "404"))


@pytest.mark.parametrize("path", _served("export"))
def test_export_when_asked_for_json_answers_a_spec_file_that_runs_back(world_server, path) -> None:
    """The document types the answer as a binary file; the JSON one is a spec the JSON run takes."""
    server, _ = world_server
    doc = f"{V1}/scenarios/export_scenarios/"
    assert DOCUMENT["paths"][doc]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"type": "string", "format": "binary"}
    params = {"scenario_ids": "101,102", "agent_id": 42, "export_type": "json"}
    answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    spec = answer.json()
    dry = requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_json/",
        params={"dry_run": "true"},
        json={"agent_id": 42, "channel": "livekit_v2", "spec": spec},
        headers=HEADERS,
        timeout=5,
    )
    assert dry.status_code == 200 and dry.json()["plan"]["total_runs"] == 2
    csv = requests.get(
        server.url + path, params={**params, "export_type": "csv"}, headers=HEADERS, timeout=5
    )
    assert csv.status_code == 200 and csv.text.startswith("id,name,")
    for bad in ({"agent_id": 42}, {"scenario_ids": "101"}, {**params, "export_type": "pdf"}):
        refused = requests.get(server.url + path, params=bad, headers=HEADERS, timeout=5)
        _check(refused, doc, "get", answer_schema(doc, "get", "400"))
    none = requests.get(
        server.url + path, params={**params, "scenario_ids": "9"}, headers=HEADERS, timeout=5
    )
    _check(none, doc, "get", answer_schema(doc, "get", "404"))


@pytest.mark.parametrize("path", _served("run_json"))
@pytest.mark.parametrize("dry_run", [True, False])
def test_json_spec_run_when_posted_validates(world_server, path: str, dry_run: bool) -> None:
    server, _ = world_server
    doc = f"{V1}/scenarios/run_scenarios_json/"
    body = {
        "agent_id": 42,
        "channel": "livekit_v2",
        "spec": {
            "version": "1",
            "scenarios": [{"name": "Scenario 101", "instructions": "Book.", "metrics": []}],
        },
    }
    validate(body, component("TestSuiteSpecUpload"))
    answer = requests.post(
        server.url + path,
        params={"dry_run": "true"} if dry_run else {},
        json=body,
        headers=HEADERS,
        timeout=5,
    )
    _check(answer, doc, "post", answer_schema(doc, "post"))
    bad = requests.post(server.url + path, json={"agent_id": 42}, headers=HEADERS, timeout=5)
    _check(bad, doc, "post", answer_schema(doc, "post", "400"))


@pytest.mark.parametrize("path", _served("billing"))
def test_billing_info_when_read_validates(world_server, path: str) -> None:
    server, _ = world_server
    answer = requests.get(server.url + path, headers=HEADERS, timeout=5)
    _check(answer, "/test_framework/billing/info/", "get", component("BillingInfo"))


def test_billing_info_when_the_key_is_project_scoped_is_a_documented_403(make_world, serve) -> None:
    server = serve(make_world(forbidden=["billing"]))
    answer = requests.get(server.url + "/test_framework/billing/info/", headers=HEADERS, timeout=5)
    assert answer.status_code == 403
    assert "403" in DOCUMENT["paths"]["/test_framework/billing/info/"]["get"]["responses"]


def test_emulator_errors_when_answered_have_the_documented_shapes(world_server) -> None:
    server, _ = world_server
    bad = requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_livekit_v2/",
        json={"scenarios": [{"scenario": 999}]},
        headers=HEADERS,
        timeout=5,
    )
    doc = f"{V1}/scenarios/run_scenarios_livekit_v2/"
    _check(bad, doc, "post", answer_schema(doc, "post", "400"))
