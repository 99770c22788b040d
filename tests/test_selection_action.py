"""Selection and cost control through the action's entry point, against the stand-in.

Tags, folders, the scenarios file and rerun_failed_from choose what runs; max_runs refuses a run
that places too many calls; dry_run stops before the trigger. Most tests run the entry point
in-process on the fake clock the stand-in shares (tests/test_entrypoint.py); one runs
`entrypoint.py` as a real process, where the workspace as the working directory matters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from tests import test_contract as contract
from tests import test_entrypoint as e2e
from tests.helpers import scenario

# The entry point's fixtures, shared: the in-process action on the fake clock, the stand-in on it.
run_action = e2e.run_action
fast_world = e2e.fast_world
serve_on_clock = e2e.serve_on_clock

CATALOGUE = [
    scenario(101, "Book a cleaning", tags=["booking", "smoke"], folder_path="Booking.Inbound"),
    scenario(102, "Reschedule", tags=["booking"], folder_path="Booking"),
    scenario(103, "Late cancellation", tags=["policy", "smoke"], folder_path="Policy"),
    scenario(104, "Price estimate", tags=["billing"]),
    scenario(105, "Booking FAQ", tags=["faq"], folder_path="BookingFAQ"),
    {"id": 201, "name": "Another agent's smoke test", "agent": 7, "tags": ["smoke"]},
]
AGENTS = [{"id": 42, "agent_name": "Dental receptionist"}, {"id": 7, "agent_name": "Billing"}]


@pytest.fixture
def catalogue(fast_world, serve_on_clock):
    """A stand-in serving tagged scenarios in folders, for agent 42 and another agent."""

    def start(**extra: Any):
        return serve_on_clock(fast_world(CATALOGUE, agents=AGENTS, **extra))

    return start


def triggered(server) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.endpoint == "trigger"]


def started_runs(server) -> list[Any]:
    return [r for r in server.requests if r.starts_runs]


def scenario_ids(body: dict[str, Any]) -> list[int]:
    return [item["scenario"] for item in body["scenarios"]]


def inputs(server, **extra: str) -> dict[str, str]:
    return e2e.inputs_for(server, **extra)


# --- tags and folders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "match", "expected"),
    [
        ("smoke", "any", [101, 103]),
        ("booking, smoke", "any", [101, 102, 103]),
        ("booking\nsmoke", "all", [101]),
        ("smoke", "none", [102, 104, 105]),
    ],
)
def test_action_when_tags_given_runs_the_agents_scenarios_they_match(
    catalogue, run_action, tags, match, expected
) -> None:
    """any/all/none are Cekura's or/and/not, filtered by the agent: 201 is another agent's."""
    server = catalogue()
    code, stdout, _, _ = run_action(**inputs(server, scenario_tags=tags, tag_match=match))
    assert code == 0, stdout
    [body] = triggered(server)
    assert scenario_ids(body) == expected
    [search] = [r for r in server.requests if r.endpoint == "scenarios"]
    assert search.query["agent_id"] == ["42"]
    assert search.query["tag_filter_type"] == [{"any": "or", "all": "and", "none": "not"}[match]]


def test_action_when_folder_given_runs_its_scenarios_and_its_subfolders(
    catalogue, run_action
) -> None:
    """`Booking` holds `Booking.Inbound`, not `BookingFAQ`; names are logged with the ids."""
    server = catalogue()
    code, stdout, _, _ = run_action(**inputs(server, scenario_folder="Booking"))
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [101, 102]
    assert "101 · Book a cleaning · scenario_folder" in stdout
    assert "102 · Reschedule · scenario_folder" in stdout


def test_action_when_folder_and_tags_given_runs_the_tagged_scenarios_in_the_folder(
    catalogue, run_action
) -> None:
    """One search with both filters: smoke scenarios in Booking (and its subfolders) only."""
    server = catalogue()
    code, stdout, _, _ = run_action(
        **inputs(server, scenario_folder="Booking", scenario_tags="smoke")
    )
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [101]


def test_action_when_the_list_has_several_pages_reads_every_page(catalogue, run_action) -> None:
    """Cekura pages its list (here two rows a page, whatever page_size asks): nothing is lost."""
    server = catalogue(page_size=2, max_page_size=2)
    code, stdout, _, _ = run_action(**inputs(server, scenario_tags="smoke", tag_match="none"))
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [102, 104, 105]
    pages = [r.query.get("page") for r in server.requests if r.endpoint == "scenarios"]
    assert pages == [["1"], ["2"]]


def test_action_when_ids_and_tags_overlap_runs_each_once_ids_first(catalogue, run_action) -> None:
    """The union in a stable order: scenario_ids as given, then what the search adds."""
    server = catalogue()
    code, stdout, _, _ = run_action(
        **inputs(server, scenario_ids="104, 103", scenario_tags="smoke")
    )
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [104, 103, 101]
    assert "103 · Late cancellation · scenario_ids, scenario_tags" in stdout


@pytest.mark.parametrize(
    ("extra", "searched"),
    [
        (
            {"scenario_tags": "smokey"},
            "Invalid input 'scenario_tags': no scenario matched: searched Cekura for scenarios of "
            "agent 42 with any of the tags 'smokey'",
        ),
        (
            {"scenario_folder": "Booking.Outbound", "scenario_ids": "101"},
            "Invalid input 'scenario_folder': no scenario matched: searched Cekura for scenarios "
            "of agent 42 in the folder 'Booking.Outbound' (subfolders included)",
        ),
    ],
)
def test_action_when_the_search_finds_nothing_exits_2_and_starts_nothing(
    catalogue, run_action, extra, searched
) -> None:
    """A tag or folder that matches nothing is a typo until proven otherwise, even next to ids."""
    server = catalogue()
    code, stdout, outputs, summary = run_action(**inputs(server, **extra))
    assert code == 2, stdout
    assert searched in stdout and "searched Cekura for" in summary
    assert triggered(server) == [] and started_runs(server) == []
    assert outputs["outcome"] == "error"


def test_action_without_any_selector_exits_2_naming_them(catalogue, run_action) -> None:
    """An agent alone chooses nothing: the refusal lists every selector, and nothing is sent."""
    server = catalogue()
    code, stdout, _, _ = run_action(**inputs(server))
    assert code == 2
    assert "scenario_tags, scenario_folder, scenarios_file or rerun_failed_from" in stdout
    assert server.requests == []


# --- the scenarios file -----------------------------------------------------------------------

YAML_FILE = """\
# Scenarios that need data in the LiveKit room.
scenarios:
  - scenario: 103
    publish_data_message:
      caller: {patient_id: P-1042, insured: yes, since: 2024-01-31}
      flags: [on, off, true, null]
      amount: 12.50
      note: "`@team` ::warning:: <b>not markup</b>"
  - scenario: 101
"""
YAML_AS_SENT = {
    "caller": {"patient_id": "P-1042", "insured": "yes", "since": "2024-01-31"},
    "flags": ["on", "off", True, None],
    "amount": 12.5,
    "note": "`@team` ::warning:: <b>not markup</b>",
}
JSON_FILE = [
    {"scenario": 104, "publish_data_message": {"locale": "de-CH", "retries": 0, "deep": [[{}]]}},
    {"scenario": 102},
]


def test_action_when_a_yaml_file_lists_scenarios_sends_each_message_exactly_as_written(
    catalogue, run_action, workspace: Path
) -> None:
    """YAML 1.2's core schema: `yes`, `on` and dates stay text; the message arrives untouched."""
    (workspace / "ci").mkdir()
    (workspace / "ci" / "scenarios.yml").write_text(YAML_FILE)
    server = catalogue()
    code, stdout, _, _ = run_action(**inputs(server, scenarios_file="ci/scenarios.yml"))
    assert code == 0, stdout
    [body] = triggered(server)
    assert body["scenarios"] == [
        {"scenario": 103, "publish_data_message": YAML_AS_SENT},
        {"scenario": 101},
    ]


def test_action_when_a_json_file_combines_with_tags_keeps_its_messages(
    catalogue, run_action, workspace: Path
) -> None:
    """ids, then the file, then the search; a scenario the search finds again keeps its message."""
    (workspace / "scenarios.json").write_text(json.dumps(JSON_FILE))
    server = catalogue()
    code, stdout, _, _ = run_action(
        **inputs(
            server,
            scenario_ids="105",
            scenarios_file="scenarios.json",
            scenario_tags="booking, billing",
        )
    )
    assert code == 0, stdout
    [body] = triggered(server)
    assert body["scenarios"] == [
        {"scenario": 105},
        {"scenario": 104, "publish_data_message": JSON_FILE[0]["publish_data_message"]},
        {"scenario": 102},
        {"scenario": 101},
    ]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "s.yml",
            "- scenario: 101\n  publish_data_mesage: {a: 1}\n",
            "s.yml, entry 1 (scenario 101): unknown field 'publish_data_mesage'",
        ),
        (
            "s.yml",
            "- scenario: '101'\n",
            "s.yml, entry 1: field 'scenario': expected a positive whole number (the scenario's "
            "id), got the text '101'",
        ),
        (
            "s.json",
            '[{"scenario": 101}, {"scenario": 102, "publish_data_message": "hi"}]',
            "s.json, entry 2 (scenario 102): field 'publish_data_message': expected an object",
        ),
        (
            "s.yml",
            "- scenario: 101\n- scenario: 102\n- scenario: 101\n",
            "s.yml, entry 3: scenario 101 is listed again (first in entry 1)",
        ),
        (
            "s.yml",
            "- {scenario: 101, publish_data_message: {a: 1}}\n"
            "- {scenario: 101, publish_data_message: {a: true}}\n",
            "s.yml, entries 1 and 2: scenario 101 is chosen twice with two different "
            "publish_data_message values",
        ),
        (
            "s.yml",
            "- scenario: 101\n  publish_data_message: {when: !!timestamp 2024-01-31}\n",
            "s.yml, entry 1 (scenario 101): field publish_data_message.when: a date is not a JSON "
            "value",
        ),
        (
            "s.yml",
            "- scenario: 101\n  scenario: 102\n",
            "s.yml is not valid YAML (line 2, column 3): found the key 'scenario' twice",
        ),
        # column 18 or 19: Python 3.13 points at the comma, older ones at what follows it
        ("s.json", '[{"scenario": 101,}]', "s.json is not valid JSON (line 1, column 1"),
        ("s.yml", "scenarioz: []\n", "s.yml: unknown top-level key 'scenarioz'"),
        ("s.yml", "[]\n", "s.yml: lists no scenario"),
        ("s.txt", "- scenario: 101\n", "s.txt: expected a .yaml, .yml or .json file"),
    ],
)
def test_action_when_the_scenarios_file_is_malformed_exits_2_naming_file_entry_and_field(
    catalogue, run_action, workspace: Path, name, content, problem
) -> None:
    """Checked whole before anything is sent; the message says where the problem is."""
    (workspace / name).write_text(content)
    server = catalogue()
    code, stdout, _, summary = run_action(**inputs(server, scenarios_file=name))
    assert code == 2, stdout
    assert f"Invalid input 'scenarios_file': {problem}" in stdout
    assert "Invalid input 'scenarios\\_file'" in summary  # escaped for Markdown
    assert server.requests == []


def test_action_when_the_scenarios_file_is_missing_exits_2_before_sending(
    catalogue, run_action
) -> None:
    """A path that is not there is a bad input, said with where it is looked for."""
    server = catalogue()
    code, stdout, _, _ = run_action(**inputs(server, scenarios_file="ci/nope.yml"))
    assert code == 2
    assert "cannot read 'ci/nope.yml': no such file (the path is relative to the workspace)" in (
        stdout
    )
    assert server.requests == []


# --- rerun_failed_from ------------------------------------------------------------------------

NIGHTLY = 7001


@pytest.fixture
def after_a_nightly(catalogue):
    """A finished nightly result (id 7001) of agent 42 in which 102 failed and 104 was flaky."""

    def start(outcomes: dict[int, Any]):
        past = {
            "id": NIGHTLY,
            "name": "nightly",
            "agent": 42,
            "age": "1d",
            "frequency": 2,
            "scenarios": [101, 102, 103, 104],
            "outcomes": outcomes,
        }
        return catalogue(past_results=[past])

    return start


def test_action_when_rerun_failed_from_runs_only_what_did_not_pass(
    after_a_nightly, run_action
) -> None:
    """Failed and flaky scenarios both did not pass; the passing ones are not run again."""
    server = after_a_nightly({102: "fail", 104: ["pass", "fail"]})
    code, stdout, outputs, _ = run_action(**inputs(server, rerun_failed_from=str(NIGHTLY)))
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [102, 104]
    assert outputs["planned_runs"] == "2"


def test_action_when_rerun_failed_from_with_ids_reruns_only_theirs(
    after_a_nightly, run_action
) -> None:
    """Other selectors narrow the re-run to their own scenarios that did not pass."""
    server = after_a_nightly({102: "fail", 104: "fail"})
    code, stdout, _, _ = run_action(
        **inputs(server, scenario_ids="101,104", rerun_failed_from=str(NIGHTLY))
    )
    assert code == 0, stdout
    assert scenario_ids(triggered(server)[0]) == [104]


def test_action_when_nothing_failed_in_the_result_says_so_and_exits_0_without_a_run(
    after_a_nightly, run_action
) -> None:
    """A clean result leaves nothing to re-run: exit 0, a summary that says so, no run."""
    server = after_a_nightly({})
    code, stdout, outputs, summary = run_action(**inputs(server, rerun_failed_from=str(NIGHTLY)))
    assert code == 0, stdout
    assert f"Every scenario passed in result {NIGHTLY}: nothing to re-run." in stdout
    assert "nothing to re-run" in summary and "No run was started" in summary
    assert started_runs(server) == []
    assert outputs["outcome"] == "passed" and outputs["planned_runs"] == "0"


def test_action_when_the_rerun_result_has_no_runs_exits_2_instead_of_passing(
    catalogue, run_action
) -> None:
    """A result without a single run once read as "every scenario passed": exit 0, a green
    gate that tested nothing."""
    empty = {"id": NIGHTLY, "name": "nightly", "agent": 42, "age": "1d", "scenarios": []}
    server = catalogue(past_results=[empty])
    code, stdout, _, _ = run_action(**inputs(server, rerun_failed_from=str(NIGHTLY)))
    assert code == 2, stdout
    assert f"Invalid input 'rerun_failed_from': result {NIGHTLY} has no runs" in stdout
    assert "Every scenario passed" not in stdout and started_runs(server) == []


def test_action_when_the_rerun_result_is_unknown_exits_2(after_a_nightly, run_action) -> None:
    """A result id Cekura does not know is a bad input, not an outage."""
    server = after_a_nightly({})
    code, stdout, _, _ = run_action(**inputs(server, rerun_failed_from="4040"))
    assert code == 2
    assert "Invalid input 'rerun_failed_from': Cekura has no result 4040" in stdout
    assert started_runs(server) == []


# --- max_runs ---------------------------------------------------------------------------------

OVERRIDES = {
    "scenario_ids": "101,102",
    "frequency": "2",
    "personality_ids": "1,2",
    "test_profile_ids": "20,21,22",
}


@pytest.fixture
def with_overrides(catalogue):
    def start():
        return catalogue(
            personalities=[{"id": 1, "name": "Calm"}, {"id": 2, "name": "Impatient"}],
            test_profiles=[{"id": i, "name": f"Profile {i}"} for i in (20, 21, 22)],
        )

    return start


@pytest.mark.parametrize("max_runs", ["24", "25", "0"])
def test_action_when_calls_are_at_or_below_max_runs_starts_them_all(
    with_overrides, run_action, max_runs
) -> None:
    """2 scenarios × frequency 2 × 2 personalities × 3 test profiles = 24 calls, as Cekura places."""
    server = with_overrides()
    code, stdout, outputs, summary = run_action(**inputs(server, max_runs=max_runs, **OVERRIDES))
    assert code == 0, stdout
    assert outputs["planned_runs"] == "24" and outputs["total_runs"] == "24"
    assert (
        "This run places 2 scenarios × frequency 2 × 2 personalities × 3 test profiles = 24 calls"
        in stdout
    )
    assert "24 calls placed by this step." in summary


def test_action_when_calls_exceed_max_runs_exits_2_with_the_arithmetic_and_sends_nothing(
    with_overrides, run_action
) -> None:
    """One call over the limit is refused before the POST, with the multiplication shown."""
    server = with_overrides()
    code, stdout, outputs, summary = run_action(**inputs(server, max_runs="23", **OVERRIDES))
    assert code == 2
    message = (
        "Refused to start: this run would place 2 scenarios × frequency 2 × 2 personalities × "
        "3 test profiles = 24 calls, above max_runs 23."
    )
    assert message in stdout and "raise max\\_runs" in summary
    assert outputs["planned_runs"] == "24" and outputs["outcome"] == "error"
    assert triggered(server) == [] and started_runs(server) == []


# --- dry run ----------------------------------------------------------------------------------


def printed_body(stdout: str) -> dict[str, Any]:
    """The request body the dry run printed (between the stop-commands markers)."""
    start = stdout.index("Request body that would be sent to POST ")
    block = stdout[start:].split("\n", 1)[1]
    token = re.match(r"::stop-commands::(\w+)\n", block)
    assert token, block[:200]
    text = block[token.end() : block.index(f"::{token.group(1)}::")]
    return json.loads(text)


def test_action_when_dry_run_sends_no_run_and_prints_the_exact_body_a_run_sends(
    catalogue, run_action, workspace: Path
) -> None:
    """Everything up to the trigger, then stop: the printed body is what the real run posts."""
    (workspace / "scenarios.yml").write_text(YAML_FILE)
    server = catalogue()
    given = inputs(
        server,
        scenario_tags="booking",
        scenarios_file="scenarios.yml",
        frequency="2",
        name="voice gate",
        livekit_data='{"agent_name": "receptionist-pr-7"}',
    )
    code, stdout, outputs, summary = run_action(dry_run="true", **given)
    assert code == 0, stdout
    assert started_runs(server) == [] and not any(r.created_result for r in server.requests)
    assert "trigger" not in [r.endpoint for r in server.requests]
    [estimate] = [r for r in server.requests if r.endpoint == "run_json"]
    assert estimate.query["dry_run"] == ["true"] and estimate.body["channel"] == "livekit_v2"
    body = printed_body(stdout)
    assert "```json\n" + json.dumps(body, indent=2, ensure_ascii=False) + "\n```" in summary
    assert outputs["planned_runs"] == "6" and set(outputs) >= {"estimated_cost", "summary_file"}
    assert outputs["outcome"] == "passed" and "result_id" not in outputs

    (workspace / "github_output").write_text("")
    code, stdout, _, _ = run_action(**given)
    assert code == 0, stdout
    assert triggered(server) == [body]


def test_action_when_dry_run_shows_cekuras_estimate_and_the_credits_left(
    catalogue, run_action
) -> None:
    """At the world's prices (1 credit a minute, 90 s calls): 2 scenarios × 2 = 6.00 credits."""
    server = catalogue(credits=250)
    code, stdout, outputs, summary = run_action(
        **inputs(server, scenario_ids="101,102", frequency="2", dry_run="true")
    )
    assert code == 0, stdout
    assert outputs["estimated_cost"] == "6.00"
    assert "Estimated cost: 6.00 credits (Cekura's dry run)." in stdout
    assert "Credits left: 250.00." in stdout
    assert summary.startswith("## 🧪 Cekura dry run: 4 calls planned, nothing started")
    assert "| 6.00 credits | 250.00 | 500 |" in summary
    assert "| Book a cleaning | 101 | scenario\\_ids | – |" in summary


def test_action_when_dry_run_with_junit_ends_passed_and_writes_a_passing_gate_case(
    catalogue, run_action, workspace: Path
) -> None:
    """Exit 0 says `passed` in a word, and a report step that needs a JUnit file finds one."""
    server = catalogue()
    code, stdout, outputs, _ = run_action(
        **inputs(
            server, scenario_ids="101", dry_run="true", junit_file="junit.xml", comment="update"
        )
    )
    assert "A dry run posts no pull-request comment" in stdout
    assert code == 0, stdout
    assert (outputs["outcome"], outputs["passed"], outputs["junit_file"]) == (
        "passed",
        "true",
        "junit.xml",
    )
    suite = JUnitXml.fromfile(str(workspace / "junit.xml"))
    [case] = [case for s in suite for case in s]
    assert case.name == "gate" and case.is_passed and "Dry run: 1 scenario" in case.system_out


@pytest.mark.parametrize(
    ("forbidden", "priced", "credits"),
    [
        (["export"], False, True),
        (["run_json"], False, True),
        (["billing"], True, False),
        (["export", "run_json", "billing"], False, False),
    ],
)
def test_action_when_the_estimate_is_refused_says_no_estimate_and_still_exits_0(
    catalogue, run_action, forbidden, priced, credits
) -> None:
    """A project-scoped key may not price or see billing (403): the dry run goes on without."""
    server = catalogue(forbidden=forbidden)
    code, stdout, outputs, summary = run_action(
        **inputs(server, scenario_ids="101", dry_run="true")
    )
    assert code == 0, stdout
    refused = "(Cekura refused it to this API key (HTTP 403"
    assert ("Estimated cost: 1.50 credits" in stdout) == priced
    assert (f"Estimated cost: no estimate {refused}" in stdout) == (not priced)
    assert ("no estimate" in summary) == (not priced)
    assert outputs["estimated_cost"] == ("1.50" if priced else "")
    assert ("Credits left: 5000.00." in stdout) == credits
    assert (f"Credits left: unknown {refused}" in stdout) == (not credits)
    assert started_runs(server) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"scenario_ids": "101,999"}, "Invalid input 'scenario_ids': scenario 999 does not exist"),
        (
            {"scenario_ids": "101,201"},
            "Invalid input 'scenario_ids': scenario 201 (Another agent's smoke test) belongs to "
            "agent 7, not to agent 42",
        ),
        (
            {"scenario_ids": "101", "agent_id": "43"},
            "Invalid input 'agent_id': Cekura has no agent 43",
        ),
    ],
)
def test_action_when_dry_run_finds_a_scenario_or_agent_wrong_exits_2(
    catalogue, run_action, extra, problem
) -> None:
    """The agent exists and every scenario is the agent's, before any price is asked."""
    server = catalogue()
    code, stdout, _, _ = run_action(**{**inputs(server), "dry_run": "true", **extra})
    assert code == 2, stdout
    assert problem in stdout
    assert not any(r.endpoint in ("run_json", "trigger") for r in server.requests)


def test_action_when_dry_run_is_over_max_runs_exits_2_like_the_run_would(
    catalogue, run_action
) -> None:
    """The push-time dry run catches the `frequency: 100` typo before the pull request's run."""
    server = catalogue()
    code, stdout, _, _ = run_action(
        **inputs(server, scenario_tags="booking", frequency="100", max_runs="150", dry_run="true")
    )
    assert code == 2
    assert "2 scenarios × frequency 100 = 200 calls, above max_runs 150" in stdout
    assert not any(r.endpoint in ("run_json", "export", "trigger") for r in server.requests)


def test_action_when_dry_run_with_a_yaml_file_runs_as_a_real_process_from_the_workspace(
    fast_world, serve, workspace: Path
) -> None:
    """The path is relative to the workspace, the runner's working directory; PyYAML is
    imported there on demand; the exit code is the process's own."""
    (workspace / ".cekura").mkdir()
    (workspace / ".cekura" / "scenarios.yaml").write_text(YAML_FILE)
    server = serve(fast_world(CATALOGUE, agents=AGENTS))
    code, stdout, outputs, summary = e2e.run_entrypoint(
        workspace,
        **inputs(server, scenarios_file=".cekura/scenarios.yaml", dry_run="true"),
    )
    assert code == 0, stdout
    assert printed_body(stdout)["scenarios"][0]["publish_data_message"] == YAML_AS_SENT
    assert outputs["planned_runs"] == "2" and outputs["estimated_cost"] == "3.00"
    assert "nothing started" in summary
    assert started_runs(server) == []


# --- the contract -----------------------------------------------------------------------------


def test_requests_when_a_dry_run_makes_them_use_only_documented_parameters_and_bodies(
    catalogue, run_action, workspace: Path
) -> None:
    """Every query parameter the selection and the dry run send is one the document lists for
    that path (enums respected); the price request and the run request validate."""
    (workspace / "s.yml").write_text(YAML_FILE)
    server = catalogue(page_size=2, max_page_size=2)
    code, stdout, _, _ = run_action(
        **inputs(
            server,
            scenarios_file="s.yml",
            scenario_tags="booking",
            tag_match="all",
            scenario_folder="Booking",
            personality_ids="1",
            dry_run="true",
        )
    )
    assert code == 0, stdout
    paths = contract.DOCUMENT["paths"]
    for request in server.requests:
        documented = contract.documented_path(
            re.sub(r"/\d+$", "/(?P<id>[0-9]+)", request.path.rstrip("/"))
        )
        operation = paths[documented][request.method.lower()]
        parameters = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        for name, values in request.query.items():
            assert name in parameters, (documented, name)
            allowed = parameters[name]["schema"].get("enum")
            assert allowed is None or values[0] in allowed, (documented, name, values)
        if request.endpoint == "run_json":
            contract.validate(request.body, contract.component("TestSuiteSpecUpload"))
    contract.validate(printed_body(stdout), contract.component("RunLivekitScenarios"))
