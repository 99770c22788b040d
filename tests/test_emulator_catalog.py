"""What a client reads before it spends: scenarios by agent, tags and folders, the export, the
JSON-spec run's dry-run price, and the credits left."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.helpers import API_KEY, scenario

V1 = "/test_framework/v1"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}
BILLING = "/test_framework/billing/info/"


@pytest.fixture
def catalog(make_world, serve):
    world = make_world(
        [
            scenario(1, tags=["a", "b"], folder_path="Sales.Inbound"),
            scenario(2, tags=["b"], folder_path="Sales"),
            scenario(3, folder_path="Sales.Inbound.Vip"),
            scenario(4, tags=["a"], folder_path="Salesforce"),
            scenario(5),
            scenario(6, tags=["a"], agent=43, duration=120),
        ],
        agents=[
            {"id": 42, "agent_name": "Test agent", "project": 1},
            {"id": 43, "agent_name": "Other agent", "project": 2},
        ],
        personalities=[{"id": 1, "name": "Normal Female"}, {"id": 2, "name": "Impatient"}],
        test_profiles=[{"id": 20, "name": "Existing"}, {"id": 21, "name": "New"}],
        price_per_call=0.5,
        price_per_minute=2.0,
        credits=100,
    )
    return serve(world)


def ids(server, **params: Any) -> list[int]:
    answer = requests.get(
        server.url + f"{V1}/scenarios/", params=params, headers=HEADERS, timeout=5
    )
    assert answer.status_code == 200, answer.text
    return [row["id"] for row in answer.json()["results"]]


def test_scenarios_when_filtered_by_tags_apply_or_and_not(catalog) -> None:
    assert ids(catalog, tags="a,b", tag_filter_type="and") == [1]
    assert (
        ids(catalog, tags="a,b") == [1, 2, 4, 6] == ids(catalog, tags="a, b", tag_filter_type="or")
    )
    assert ids(catalog, tags="b", tag_filter_type="not") == [3, 4, 5, 6]


def test_scenarios_when_filtered_by_folder_include_its_subfolders_only(catalog) -> None:
    """`Sales` holds `Sales.Inbound` and `Sales.Inbound.Vip`, not `Salesforce`; "" is no folder."""
    assert ids(catalog, folder_path="Sales") == [1, 2, 3]
    assert ids(catalog, folder_path="Sales.Inbound") == [1, 3]
    assert ids(catalog, folder_path="") == [5, 6]


def test_scenarios_when_filtered_by_agent_or_project_and_paged(catalog) -> None:
    assert ids(catalog, agent_id=43) == [6] == ids(catalog, project_id=2)
    assert ids(catalog, agent_id=42, page_size=2, page=3) == [5]
    assert ids(catalog, agent_id=42, tags="a", folder_path="Sales") == [1]
    assert ids(catalog, assistant_id="asst_1") == []


def test_scenarios_when_read_carry_tags_folders_and_metrics(catalog) -> None:
    row = requests.get(
        catalog.url + f"{V1}/scenarios/", params={"agent_id": 42}, headers=HEADERS, timeout=5
    ).json()["results"][0]
    assert (row["tags"], row["folder_path"]) == (["a", "b"], "Sales.Inbound")
    assert row["metric_names"] == '["Task completed", "Average latency (ms)"]'  # JSON text
    one = requests.get(catalog.url + f"{V1}/scenarios/1/", headers=HEADERS, timeout=5).json()
    assert one["metric_names"] == ["Task completed", "Average latency (ms)"] and one["project"] == 1


def export(server, **params: Any) -> requests.Response:
    return requests.get(
        server.url + f"{V1}/scenarios/export_scenarios/", params=params, headers=HEADERS, timeout=5
    )


def test_export_when_asked_for_json_gives_the_agents_scenarios_as_a_spec(catalog) -> None:
    """Only the agent's own scenarios among those asked for; unknown ids are left out."""
    answer = export(catalog, scenario_ids="1,2,6,99", agent_id=42, export_type="json")
    assert answer.status_code == 200
    spec = answer.json()
    assert spec["version"] == "1" and [s["name"] for s in spec["scenarios"]] == [
        "Scenario 1",
        "Scenario 2",
    ]
    assert spec["scenarios"][0]["metrics"] == ["Task completed", "Average latency (ms)"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"agent_id": 42}, {"scenario_ids": ["This field is required."]}),
        (
            {"scenario_ids": "1"},
            {"non_field_errors": ["Either agent_id or project_id is required."]},
        ),
        (
            {"scenario_ids": "1", "agent_id": 42, "export_type": "pdf"},
            {"export_type": ['"pdf" is not a valid choice.']},
        ),
    ],
)
def test_export_when_asked_wrongly_answers_400(catalog, params, expected) -> None:
    answer = export(catalog, **params)
    assert (answer.status_code, answer.json()) == (400, expected)


def test_export_when_nothing_matches_answers_404(catalog) -> None:
    answer = export(catalog, scenario_ids="6", agent_id=42, export_type="json")
    assert (answer.status_code, answer.json()) == (404, {"detail": "No scenarios found."})


def dry_run(server, spec: dict[str, Any], **extra: Any) -> requests.Response:
    return requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_json/",
        params={"dry_run": "true"},
        json={"agent_id": 42, "channel": "livekit_v2", "spec": spec, **extra},
        headers=HEADERS,
        timeout=5,
    )


def test_dry_run_when_priced_multiplies_and_charges_nothing(catalog) -> None:
    """Calls = test cases × frequency × personalities × profiles; per call: fee + minutes × rate."""
    spec = export(catalog, scenario_ids="1,2", agent_id=42, export_type="json").json()
    answer = dry_run(catalog, spec, frequency=3, personality_ids=[1, 2], test_profile_ids=[20, 21])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["valid"] is True
    plan = body["plan"]
    assert plan["total_runs"] == 2 * 3 * 2 * 2
    # 90-second scenarios: 0.50 + 1.5 min × 2.00 = 3.50 credits a call.
    assert plan["estimated_cost"] == "84.00" and plan["currency"] == "credits"
    assert plan["test_cases"][0] == {"name": "Scenario 1", "runs": 12, "estimated_cost": "42.00"}
    assert not catalog.emulator.results
    credits = requests.get(catalog.url + BILLING, headers=HEADERS, timeout=5).json()
    assert (credits["credits_remaining"], credits["credits_used"]) == ("100.00", "0.00")


def test_dry_run_when_a_test_case_is_new_prices_it_at_ninety_seconds(catalog) -> None:
    spec = {"version": "1", "scenarios": [{"name": "Brand new", "instructions": "Call and ask."}]}
    assert dry_run(catalog, spec).json()["plan"]["estimated_cost"] == "3.50"


def test_json_spec_run_when_not_dry_starts_runs_and_spends_credits(catalog) -> None:
    spec = export(catalog, scenario_ids="1", agent_id=42, export_type="json").json()
    answer = requests.post(
        catalog.url + f"{V1}/scenarios/run_scenarios_json/",
        json={"agent_id": 42, "channel": "livekit_v2", "spec": spec, "name": "from spec"},
        headers=HEADERS,
        timeout=5,
    )
    assert answer.status_code == 200 and len(answer.json()["runs"]) == 1
    credits = requests.get(catalog.url + BILLING, headers=HEADERS, timeout=5).json()
    assert (credits["credits_remaining"], credits["credits_used"]) == ("96.50", "3.50")


def test_billing_when_runs_are_started_counts_what_they_cost(catalog) -> None:
    requests.post(
        catalog.url + f"{V1}/scenarios/run_scenarios_livekit_v2/",
        json={"agent": 43, "scenarios": [{"scenario": 6}], "frequency": 2},
        headers=HEADERS,
        timeout=5,
    )
    info = requests.get(catalog.url + BILLING, headers=HEADERS, timeout=5).json()
    # Two two-minute calls: 2 × (0.50 + 2 × 2.00).
    assert info["credits_used"] == "9.00" and info["initial_balance"] == "100.00"
