"""Selection inputs and the scenarios file, piece by piece: what is accepted, what is refused, why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml
from pydantic import SecretStr

from cekura_ci.client import RESULTS_PATH, CekuraClient, make_session
from cekura_ci.scenarios_file import MAX_VALUES, read_scenarios_file
from cekura_ci.selection import not_passed, select
from cekura_ci.settings import Settings, SettingsError
from tests import test_entrypoint as e2e
from tests.factories import result, runs_for
from tests.helpers import API_KEY

BASE = "https://api.cekura.test"
run_action = e2e.run_action
fast_world = e2e.fast_world
serve_on_clock = e2e.serve_on_clock


def settings(**raw: str) -> Settings:
    return Settings.from_inputs({"api_key": API_KEY, "agent_id": "42", **raw})


def refusal(**raw: str) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as caught:
        settings(**raw)
    return caught.value.problems


# --- inputs -----------------------------------------------------------------------------------


def test_scenario_tags_when_given_as_text_are_split_on_commas_and_newlines_once_each() -> None:
    """A tag may hold spaces; each is sent once, in the order given."""
    chosen = settings(scenario_tags="smoke, high priority\n- smoke\nbooking")
    assert chosen.scenario_tags == ("smoke", "high priority", "booking")


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("Booking..Inbound", "without empty parts"),
        (".Booking", "without empty parts"),
        ("Booking\tInbound", "on one line"),
    ],
)
def test_scenario_folder_when_malformed_is_refused(folder: str, why: str) -> None:
    """A folder path has dot-separated, non-empty parts on one line."""
    [(name, message)] = refusal(scenario_folder=folder)
    assert name == "scenario_folder" and why in message


def test_tag_match_when_not_any_all_or_none_is_refused() -> None:
    """Only any, all or none; Cekura's own words (or, and, not) are not inputs."""
    [(name, message)] = refusal(scenario_tags="smoke", tag_match="or")
    assert name == "tag_match" and "'any', 'all' or 'none'" in message


@pytest.mark.parametrize(
    "selector",
    [
        {"scenario_ids": "1"},
        {"scenario_tags": "smoke"},
        {"scenario_folder": "Booking"},
        {"scenarios_file": "s.yml"},
        {"rerun_failed_from": "7"},
    ],
)
def test_settings_when_any_one_selector_is_given_accept_the_run(selector: dict[str, str]) -> None:
    """Any one selector is enough to start a run."""
    assert settings(**selector).agent_id == 42


def test_settings_when_dry_run_and_result_id_are_both_given_are_refused() -> None:
    """A dry run plans a new run; waiting for an existing result plans nothing."""
    [(name, message)] = refusal(result_id="9", dry_run="true")
    assert name == "dry_run" and "result_id" in message


def test_max_runs_when_negative_is_refused_and_0_means_no_limit() -> None:
    """max_runs is a whole number from 0 (no limit); 500 unless given."""
    [(name, message)] = refusal(scenario_ids="1", max_runs="-1")
    assert name == "max_runs" and "at least 0" in message
    assert settings(scenario_ids="1", max_runs="0").max_runs == 0
    assert settings(scenario_ids="1").max_runs == 500


# --- the scenarios file -----------------------------------------------------------------------


def read(path: Path, content: str | bytes) -> Any:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return read_scenarios_file(str(path))


def problems_of(path: Path, content: str | bytes) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        read(path, content)
    assert {name for name, _ in caught.value.problems} == {"scenarios_file"}
    return [why for _, why in caught.value.problems]


def test_scenarios_file_when_yaml_uses_anchors_and_merge_keys_expands_them(tmp_path: Path) -> None:
    """One message shared by anchor, another extended by a merge key; each sent in full."""
    entries = read(
        tmp_path / "s.yaml",
        "- scenario: 1\n  publish_data_message: &m {room: lobby, count: 0x10, mode: 0o17}\n"
        "- scenario: 2\n  publish_data_message: {<<: *m, room: hall}\n",
    )
    assert [e.publish_data_message for e in entries] == [
        {"room": "lobby", "count": 16, "mode": 15},
        {"room": "hall", "count": 16, "mode": 15},
    ]


def test_scenarios_file_when_yaml_has_1_1_booleans_and_dates_keeps_them_as_text(
    tmp_path: Path,
) -> None:
    """YAML 1.2 core: `yes`, `off`, `2024-01-31`, `1:20` and `0101` as written (text, and 101)."""
    [entry] = read(
        tmp_path / "s.yml",
        "- scenario: 0101\n"
        "  publish_data_message: {a: yes, b: off, c: 2024-01-31, d: '1:20', e: 1:20, f: True}\n",
    )
    assert entry.scenario == 101
    assert entry.publish_data_message == {
        "a": "yes",
        "b": "off",
        "c": "2024-01-31",
        "d": "1:20",
        "e": "1:20",
        "f": True,
    }


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- scenario: true\n", "field 'scenario': expected a positive whole number"),
        ("- scenario: 0\n", "got the number 0"),
        ("- {publish_data_message: {}}\n", "entry 1: field 'scenario' is missing"),
        ("- 101\n", "entry 1: expected a mapping such as {scenario: 101}, got the number 101"),
        ("scenarios: {scenario: 1}\n", "'scenarios': expected a list of scenarios"),
        ("{}\n", "expected a 'scenarios' key"),
        ("", "expected a list of scenarios such as [{scenario: 101}], got null"),
        (
            "- scenario: 1\n  publish_data_message: {1: a}\n",
            "field publish_data_message: key 1 is not text (quote it: '1')",
        ),
        (
            "- scenario: 1\n  publish_data_message: {a: [1, .inf]}\n",
            "field publish_data_message.a[1]: inf is not a JSON number",
        ),
        (
            "- scenario: 1\n  publish_data_message: {a: !!binary aGk=}\n",
            "field publish_data_message.a: binary data is not a JSON value",
        ),
        (
            "- scenario: 1\n  publish_data_message: {a: !!set {x}}\n",
            "field publish_data_message.a: a set is not a JSON value",
        ),
        (
            "- scenario: 1\n  publish_data_message: null\n",
            "expected an object (a mapping), got null; leave the field out to send none",
        ),
        ("- scenario: 1\n  x: [\n", "is not valid YAML (line 3, column 1)"),
        ("- !!python/object:os.system {}\n", "is not valid YAML (line 1, column 3)"),
    ],
)
def test_scenarios_file_when_yaml_is_malformed_names_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    """Each problem is named with the file, the entry and the field (or the line)."""
    [message] = problems_of(tmp_path / "s.yml", content)
    assert problem in message and message.startswith(str(tmp_path / "s.yml"))


def test_scenarios_file_when_nested_too_deep_is_refused_without_recursing(tmp_path: Path) -> None:
    """A message nested 41 levels deep is refused, as livekit_data is past 32."""
    message = {"a": 1}
    for _ in range(40):
        message = {"a": message}
    [problem] = problems_of(
        tmp_path / "s.json", json.dumps([{"scenario": 1, "publish_data_message": message}])
    )
    assert "nested more than 32 levels" in problem


def test_scenarios_file_when_anchors_expand_to_millions_of_values_is_refused(
    tmp_path: Path,
) -> None:
    """A few lines of aliases must not become a request of gigabytes."""
    lines = [
        "- scenario: 1",
        "  publish_data_message:",
        "    l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
    ]
    for level in range(1, 8):
        below = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"    l{level}: &l{level} [{below}]")
    [problem] = problems_of(tmp_path / "s.yaml", "\n".join(lines) + "\n")
    assert f"more than {MAX_VALUES:,} values" in problem


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("s.json", b"\xff\xfe[]", "is not UTF-8 text (byte 1)"),
        ("s.json", b"[" * 2_000_000, "holds 2,000,000 bytes; at most 1,000,000 are read"),
        ("s.json", b'[{"scenario": 1, "publish_data_message": {"a": NaN}}]', "NaN is not JSON"),
        ("s.json", b'{"scenarios": [], "version": 1}', "unknown top-level key 'version'"),
    ],
)
def test_scenarios_file_when_json_is_unreadable_names_the_problem(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    """Not UTF-8, too large, NaN or an unknown top-level key: each refused by name."""
    assert any(problem in message for message in problems_of(tmp_path / name, content))


def test_scenarios_file_when_a_directory_is_refused(tmp_path: Path) -> None:
    """A folder where the file should be is said so, not a traceback."""
    (tmp_path / "s.yml").mkdir()
    with pytest.raises(SettingsError, match="it is a directory"):
        read_scenarios_file(str(tmp_path / "s.yml"))


def test_scenarios_file_when_many_entries_are_wrong_lists_twenty_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    """A file wrong everywhere gives a bounded message."""
    problems = problems_of(tmp_path / "s.yml", "- scenario: x\n" * 25)
    assert len(problems) == 21 and problems[-1] == "and 5 more problems"


def test_scenarios_file_when_keys_are_huge_names_them_clipped(tmp_path: Path) -> None:
    """Keys are the file's own text, of any length: 800 KB of keys once became an 800 KB
    annotation. Top-level keys, an entry's unknown field and a message's path, each clipped."""
    big = "K" * 100_000
    content = json.dumps(
        {
            **{f"{big}{i}": 1 for i in range(7)},
            "scenarios": [
                {"scenario": 1, big: 2},
                {"scenario": 2, "publish_data_message": {big: {"x": float("nan")}}},
            ],
        }
    ).replace("NaN", "1e999")
    problems = problems_of(tmp_path / "s.json", content)
    assert len(problems) == 3 and all(len(p) < 600 for p in problems)
    assert problems[0].count("…") == 5 and "and 2 more" in problems[0]
    assert "unknown field 'KKKK" in problems[1]


# --- rerun_failed_from: what did not pass ----------------------------------------------------


def test_not_passed_when_runs_failed_or_never_finished_lists_those_scenarios_in_run_order() -> None:
    """Failed (fff), flaky (pf) and errored (e) scenarios did not pass; 101 (pp) did."""
    runs = runs_for({103: "fff", 101: "pp", 102: "pf", 104: "e"})
    assert not_passed(result(runs)) == {
        103: "Scenario 103",
        102: "Scenario 102",
        104: "Scenario 104",
    }


def test_not_passed_when_a_failing_scenario_was_deleted_warns_and_leaves_it_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run whose scenario is gone cannot be re-run: warned about, not sent as null."""
    runs = runs_for({101: "f"})
    runs[0]["scenario"] = None
    assert not_passed(result(runs)) == {}
    assert "whose scenario no longer exists did not pass" in caplog.text


@responses.activate
def test_rerun_when_only_runs_without_a_scenario_failed_is_refused_not_every_scenario_passed(
    clock, backoff
) -> None:
    """Failures whose scenario is gone cannot be re-run, but did happen: once "Every scenario
    passed in result 55", exit 0."""
    runs = runs_for({101: "p", 102: "f"})
    runs[1]["scenario"] = None
    responses.get(
        BASE + RESULTS_PATH + "55/",
        json={
            "id": 55,
            "agent": 42,
            "status": "completed",
            "runs": {str(r["id"]): r for r in runs},
        },
    )
    client = CekuraClient(BASE, make_session(SecretStr(API_KEY)))
    with pytest.raises(SettingsError, match="did not pass in result 55 name no scenario"):
        select(settings(rerun_failed_from="55", api_url=BASE), client, clock, backoff)


@pytest.fixture
def world_with_results(fast_world, serve_on_clock):
    def start():
        past = [
            {"id": 7001, "name": "running", "agent": 42, "age": "10m", "status": "running"},
            {"id": 7002, "name": "other agent", "agent": 7, "age": "1d", "scenarios": [201]},
        ]
        scenarios = [
            {"id": 101, "name": "Scenario 101", "agent": 42},
            {"id": 201, "name": "Scenario 201", "agent": 7, "outcome": "fail"},
        ]
        agents = [{"id": 42, "agent_name": "A"}, {"id": 7, "agent_name": "B"}]
        return serve_on_clock(fast_world(scenarios, agents=agents, past_results=past))

    return start


@pytest.mark.parametrize(
    ("result_id", "problem"),
    [
        ("7001", "result 7001 is still running: which scenarios fail is not known until it ends"),
        ("7002", "result 7002 tested agent 7, not agent_id 42"),
    ],
)
def test_action_when_the_rerun_result_cannot_be_rerun_here_exits_2(
    world_with_results, run_action, result_id: str, problem: str
) -> None:
    """A result still running, or of another agent, is refused before anything is sent."""
    server = world_with_results()
    code, stdout, _, _ = run_action(**e2e.inputs_for(server, rerun_failed_from=result_id))
    assert code == 2
    assert f"Invalid input 'rerun_failed_from': {problem}" in stdout
    assert not any(r.starts_runs for r in server.requests)


def test_dry_run_example_when_pushed_plans_and_on_a_pull_request_runs_by_tag() -> None:
    """The example's one step dry-runs every push and runs the pull request, chosen by tag."""
    example = Path(__file__).resolve().parent.parent / "examples" / "dry-run-on-push.yml"
    workflow = yaml.safe_load(example.read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads `on` as true
    [gate] = [s for s in workflow["jobs"]["cekura"]["steps"] if "cekura-ci/" in s.get("uses", "")]
    assert gate["with"]["dry_run"] == "${{ github.event_name == 'push' }}"
    assert gate["with"]["scenario_tags"] and "scenario_ids" not in gate["with"]
    assert set(gate["with"]) <= set(Settings.input_names())


@responses.activate
def test_folder_search_when_the_server_matches_loosely_keeps_only_the_folder_and_subfolders(
    clock, backoff
) -> None:
    """`Booking` is the folder and what is under `Booking.`; a server's prefix match on the text
    (`BookingFAQ`) does not widen it."""
    rows = [
        {"id": 1, "name": "a", "folder_path": "Booking"},
        {"id": 2, "name": "b", "folder_path": "Booking.Inbound.Late"},
        {"id": 3, "name": "c", "folder_path": "BookingFAQ"},
        {"id": 4, "name": "d", "folder_path": None},
        {"id": 5, "name": "e"},
    ]
    responses.get(
        BASE + CekuraClient.SCENARIOS_PATH, json={"count": 5, "next": None, "results": rows}
    )
    client = CekuraClient(BASE, make_session(SecretStr(API_KEY)))
    chosen = select(settings(scenario_folder="Booking", api_url=BASE), client, clock, backoff)
    assert [c.scenario for c in chosen.scenarios] == [1, 2, 5]
    assert responses.calls[0].request.params["folder_path"] == "Booking"


def test_scenario_page_when_one_row_has_no_usable_id_keeps_the_others() -> None:
    """One malformed row is left out: the page is still read (it was a bad answer, retried for
    max_outage before exit 3)."""
    from cekura_ci.catalog import ScenarioPage

    page = ScenarioPage.model_validate(
        {"results": [{"id": "x", "name": "broken"}, {"id": "101", "name": "Book"}, "junk", {}]}
    )
    assert [(s.id, s.name) for s in page.results] == [(101, "Book")]
