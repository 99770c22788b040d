"""Finding the baseline: `auto` against the stand-in's results list (other repositories and
branches, unfinished results and this step's own result skipped; sorted here; every page read),
a result id, a JSON report file of this or an older schema version, and every fallback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cekura_ci.baseline import find, name_parts, read_report
from cekura_ci.client import CekuraClient, make_session
from cekura_ci.context import RunContext
from cekura_ci.earlier import Earlier
from cekura_ci.report.json_report import render_json
from cekura_ci.verdict import Policy, judge
from tests.factories import result, runs_for
from tests.helpers import API_KEY

PREFIX = "cekura-ci · acme/app · main · "
PR = RunContext(repository="acme/app", ref_name="7/merge", base_ref="main", pull_request=7)


def named(branch: str, commit: str, repo: str = "acme/app") -> str:
    return f"cekura-ci · {repo} · {branch} · {commit} · run 1.1 · gate · 0a0b0c"


def past(result_id: int, name: str, age: str, **extra: Any) -> dict[str, Any]:
    return {"id": result_id, "name": name, "agent": 42, "age": age, **extra}


@pytest.fixture
def earlier_in(make_world, serve, clock, backoff):
    """An Earlier on a stand-in that holds the given earlier results (scenarios 101 and 102)."""

    def build(results: list[dict[str, Any]], **world: Any):
        server = serve(make_world(past_results=results, **world), clock=clock.now)
        client = CekuraClient(server.url, make_session(SecretStr(API_KEY)))
        return Earlier(client, clock, backoff, agent_id=42), server

    return build


def auto(make_settings, earlier: Earlier, context: RunContext = PR, exclude_id: int | None = None):
    return find(
        make_settings(baseline="auto"), context, earlier, policy=Policy(), exclude_id=exclude_id
    )


def requests_to(server, endpoint: str) -> int:
    return sum(r.endpoint == endpoint for r in server.requests)


DECOYS = [
    past(11, named("main", "1111111"), "3d"),
    past(12, named("main", "2222222"), "2d", outcomes={"101": "fail"}),
    past(13, named("main", "3333333"), "1h", status="running"),
    past(14, named("main", "4444444", repo="acme/app-2"), "1h"),
    past(15, named("main-2", "5555555"), "1h"),
    past(16, named("feature/main", "6666666"), "1h"),
    past(17, "copy of " + named("main", "7777777"), "1h"),
    past(18, named("PR #7", "8888888"), "1h"),
    past(19, named("main", "9999999"), "30m", status="cancelled"),
]


@pytest.mark.parametrize("order", ["newest", "oldest", "shuffled"])
def test_auto_when_decoys_surround_it_picks_the_newest_finished_result_on_the_branch(
    earlier_in, make_settings, order
) -> None:
    """Another repository, `main-2`, a feature branch, a name that only contains the prefix, a
    pull request, a running and a cancelled result are all skipped, whatever the list's order."""
    earlier, server = earlier_in(DECOYS, results_order=order, seed=5)
    found = auto(make_settings, earlier)
    assert found.baseline is not None and found.baseline.result_id == 12
    assert found.baseline.branch == "main" and found.baseline.commit == "2222222"
    assert {t.scenario_id: (t.passed, t.judged) for t in found.baseline.scenarios} == {
        101: (0, 1),
        102: (1, 1),
    }
    assert requests_to(server, "results") == 1 and requests_to(server, "result") == 1
    [listed] = [r for r in server.requests if r.endpoint == "results"]
    assert listed.query["search"] == [PREFIX] and listed.query["agent_id"] == ["42"]
    assert any("13" in note and "had not finished" in note for note in found.notes)


def test_auto_when_the_newest_is_this_steps_own_result_takes_the_one_before(
    earlier_in, make_settings
) -> None:
    """A push on main compares with main: never with the result it has just judged."""
    earlier, _server = earlier_in(DECOYS)
    push = RunContext(repository="acme/app", ref_name="main", default_branch="main")
    found = auto(make_settings, earlier, push, exclude_id=12)
    assert found.baseline is not None and found.baseline.result_id == 11


def test_auto_when_created_at_ties_the_higher_id_is_newer(earlier_in, make_settings) -> None:
    earlier, _server = earlier_in(
        [past(21, named("main", "aaaaaaa"), "1d"), past(20, named("main", "bbbbbbb"), "1d")],
        results_order="oldest",
    )
    assert auto(make_settings, earlier).baseline.result_id == 21


def test_auto_when_the_list_has_many_pages_reads_every_one(earlier_in, make_settings) -> None:
    """Two results a page: the newest is on the last page of an oldest-first list."""
    results = [past(30 + i, named("main", f"{i:07x}"), f"{10 - i}h") for i in range(7)]
    earlier, server = earlier_in(results, results_order="oldest", max_page_size=2)
    assert auto(make_settings, earlier).baseline.result_id == 36
    assert requests_to(server, "results") == 4


def test_auto_when_the_list_is_longer_than_the_bound_says_so(earlier_in, make_settings) -> None:
    results = [past(30 + i, named("main", f"{i:07x}"), f"{10 - i}h") for i in range(7)]
    earlier, server = earlier_in(results, results_order="newest", max_page_size=2)
    earlier.max_pages = 2
    found = auto(make_settings, earlier)
    assert found.baseline.result_id == 36 and requests_to(server, "results") == 2
    assert any("more than 2 pages" in note for note in found.notes)


def test_auto_when_search_matches_loosely_still_needs_the_exact_prefix(
    earlier_in, make_settings
) -> None:
    """A stand-in that searches by terms (like DRF) finds `feature/main` too: it is skipped."""
    earlier, _server = earlier_in(
        [
            past(40, named("main", "aaaaaaa"), "2d"),
            past(41, named("feature/main", "bbbbbbb"), "1d"),
        ],
        search="terms",
    )
    assert auto(make_settings, earlier).baseline.result_id == 40


def test_auto_when_nothing_is_found_says_so_plainly(earlier_in, make_settings) -> None:
    """The first run on a repository: no baseline, a note, the thresholds decide."""
    earlier, _server = earlier_in([past(50, named("develop", "aaaaaaa"), "1d")])
    found = auto(make_settings, earlier)
    assert found.baseline is None
    [note] = found.notes
    assert note.startswith("No baseline: no finished result of agent 42 on main was found")
    assert note.endswith("The thresholds decide.")


def test_auto_when_the_list_is_refused_falls_back_with_a_note(earlier_in, make_settings) -> None:
    """A key that may not list results (403): a note, never a failed gate."""
    earlier, _server = earlier_in(DECOYS, forbidden=["results"])
    found = auto(make_settings, earlier)
    assert found.baseline is None and "HTTP 403" in found.notes[0]


def test_auto_when_the_list_fails_for_a_moment_rides_it_out(
    earlier_in, make_settings, clock
) -> None:
    """A 503 is retried on the fake clock: the baseline is still found."""
    earlier, server = earlier_in(
        DECOYS, faults=[{"endpoint": "results", "at": [1], "kind": "status", "status": 503}]
    )
    assert auto(make_settings, earlier).baseline.result_id == 12
    assert requests_to(server, "results") == 2 and clock.sleeps


def test_auto_when_the_newest_held_no_conversation_takes_the_one_before(
    earlier_in, make_settings
) -> None:
    """A result whose every run never connected says nothing about the agent: skipped."""
    never = {"101": "error", "102": "error"}
    earlier, _server = earlier_in(
        [
            past(60, named("main", "aaaaaaa"), "2d"),
            past(61, named("main", "bbbbbbb"), "1d", outcomes=never, status="failed"),
        ],
    )
    found = auto(make_settings, earlier)
    assert found.baseline.result_id == 60
    assert "Result 61 was skipped: no run of it held a conversation." in found.notes


def test_auto_when_every_finished_result_held_no_conversation_says_so_not_that_none_exists(
    earlier_in, make_settings
) -> None:
    """Results on main whose runs never connected: the note names them, and does not say that
    nothing was found nor that this is expected the first time."""
    never = {"101": "error", "102": "error"}
    earlier, _server = earlier_in(
        [past(61, named("main", "bbbbbbb"), "1d", outcomes=never, status="failed")]
    )
    found = auto(make_settings, earlier)
    assert found.baseline is None
    [note] = found.notes
    assert "result 61 on main held no conversation" in note and "was found" not in note


def test_auto_when_off_github_actions_says_what_to_pass_instead(earlier_in, make_settings) -> None:
    earlier, server = earlier_in(DECOYS)
    found = auto(make_settings, earlier, RunContext())
    assert found.baseline is None and "result id or a report file" in found.notes[0]
    assert requests_to(server, "results") == 0


def test_auto_when_baseline_branch_is_given_looks_there(earlier_in, make_settings) -> None:
    earlier, _server = earlier_in(DECOYS)
    settings = make_settings(baseline="auto", baseline_branch="feature/main")
    found = find(settings, PR, earlier, policy=Policy(), exclude_id=None)
    assert found.baseline.result_id == 16 and found.baseline.branch == "feature/main"


def test_result_id_when_finished_is_the_baseline(earlier_in, make_settings) -> None:
    earlier, _server = earlier_in(DECOYS)
    found = find(make_settings(baseline="15"), PR, earlier, policy=Policy(), exclude_id=None)
    assert found.baseline.result_id == 15 and found.baseline.source == "result"
    assert found.baseline.branch == "main-2"


@pytest.mark.parametrize(
    ("wanted", "own", "expected"),
    [
        ("13", None, "has not finished (status running)"),
        ("12", 12, "is the one this step judged"),
        ("999", None, "not found"),
    ],
)
def test_result_id_when_unusable_falls_back_with_a_note(
    earlier_in, make_settings, wanted, own, expected
) -> None:
    earlier, _server = earlier_in(DECOYS)
    found = find(make_settings(baseline=wanted), PR, earlier, policy=Policy(), exclude_id=own)
    assert found.baseline is None and expected in found.notes[0]


# --- report files ---------------------------------------------------------------------------


def report_of(pattern: dict[int, str], **extra: Any) -> dict[str, Any]:
    verdict = judge(
        result(
            runs_for(pattern),
            id=812,
            name=named("main", "abcdef1"),
            created_at="2026-05-30T12:00:00Z",
            **extra,
        ),
        Policy(),
    )
    return json.loads(render_json(verdict))


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "baseline.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_report_file_when_written_by_report_file_is_read_without_the_api(tmp_path: Path) -> None:
    base = read_report(write(tmp_path, report_of({101: "ppp", 102: "pfe"})))
    assert (base.source, base.result_id, base.branch, base.commit) == (
        "file",
        812,
        "main",
        "abcdef1",
    )
    assert base.created_at is not None and base.created_at.day == 30
    assert {t.scenario_id: (t.passed, t.judged) for t in base.scenarios} == {
        101: (3, 3),
        102: (1, 2),
    }


def test_report_file_when_of_an_older_schema_is_read_from_what_it_has(tmp_path: Path) -> None:
    """An early 1.x report: no unfinished count, no creation time, no counts on scenarios (only
    runs with their kinds). It still gives the tallies; its age is unknown."""
    data = report_of({101: "ppp", 102: "pfe"})
    data.pop("result_created_at")
    for s in data["scenarios"]:
        for field in ("unfinished", "total", "passed", "infra_failures"):
            s.pop(field)
    base = read_report(write(tmp_path, data))
    assert base.created_at is None
    assert {t.scenario_id: (t.passed, t.judged) for t in base.scenarios} == {
        101: (3, 3),
        102: (1, 2),
    }


def test_report_file_without_a_schema_version_is_read_too(tmp_path: Path) -> None:
    data = {"scenarios": [{"scenario_id": 5, "total": "3", "passed": 3}]}
    [tally] = read_report(write(tmp_path, data)).scenarios
    assert (tally.scenario_name, tally.passed, tally.judged) == ("Scenario 5", 3, 3)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"schema_version": 2, "scenarios": []}, "newer cekura-ci (schema_version 2)"),
        ({"schema_version": 1, "outcome": "timeout", "scenarios": []}, "did not finish"),
        ({"schema_version": 1}, "not a cekura-ci JSON report"),
        ({"scenarios": [{"total": 3}]}, "could not be read"),
        ({"scenarios": [{"scenario_id": 1, "total": "many"}]}, "could not be read"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "not a cekura-ci JSON report"),
    ],
)
def test_report_file_when_unusable_falls_back_with_a_note(
    tmp_path: Path, make_settings, earlier_in, content, expected
) -> None:
    earlier, server = earlier_in([])
    settings = make_settings(baseline=write(tmp_path, content))
    found = find(settings, PR, earlier, policy=Policy(), exclude_id=None)
    assert found.baseline is None and expected in found.notes[0]
    assert server.requests == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "not a cekura-ci JSON report"),
        ('{"scenarios": [' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "]}", "not a cekura-ci"),
        ({"scenarios": [{"scenario_id": 1, "total": "1e400", "passed": 1}]}, "could not be read"),
        ('{"scenarios": [{"scenario_id": 1, "total": 1e400}]}', "could not be read"),
        ('{"scenarios": [{"scenario_id": 1, "total": Infinity}]}', "could not be read"),
        ({"schema_version": "2", "scenarios": []}, 'schema_version "2", which is not'),
        ({"schema_version": 2.0, "scenarios": []}, "schema_version 2.0, which is not"),
        ({"schema_version": True, "scenarios": []}, "schema_version true, which is not"),
        (
            {"scenarios": [{"scenario_id": i, "total": 1, "passed": 1} for i in range(10_001)]},
            "lists 10,001 scenarios; a cekura-ci report of one result holds at most 10,000",
        ),
    ],
)
def test_report_file_when_hostile_falls_back_with_a_note_instead_of_crashing(
    tmp_path: Path, make_settings, content, expected
) -> None:
    """Nested past the parser's stack, counts that overflow int(), a version that is not ours,
    more scenarios than a run can have: a note, never an "unexpected error" after the paid run
    (nor minutes and gigabytes spent comparing with a million scenarios)."""
    settings = make_settings(baseline=write(tmp_path, content))
    found = find(settings, PR, None, policy=Policy(), exclude_id=None)  # type: ignore[arg-type]
    assert found.baseline is None and expected in found.notes[0]


def test_report_file_when_names_hold_lone_surrogates_reads_them_as_replacement_characters(
    tmp_path: Path,
) -> None:
    """Legal in JSON, unencodable in UTF-8: every report written from them would crash."""
    text = (
        '{"schema_version": 1, "result_id": true, "result_name": "x\\ud800", "scenarios": '
        '[{"scenario_id": 1, "scenario_name": "a\\udfff", "personality_name": "\\ud800",'
        ' "total": 3, "passed": 3}]}'
    )
    base = read_report(write(tmp_path, text))
    [tally] = base.scenarios
    assert (tally.scenario_name, tally.personality_name) == ("a\ufffd", "\ufffd")
    assert base.result_name == "x\ufffd" and base.result_id is None
    base.model_dump_json()  # what every report does with it


def test_report_file_when_missing_falls_back_with_a_note(tmp_path: Path, make_settings) -> None:
    settings = make_settings(baseline=str(tmp_path / "nowhere.json"))
    found = find(settings, PR, None, policy=Policy(), exclude_id=None)  # type: ignore[arg-type]
    assert found.baseline is None and "does not exist" in found.notes[0]


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        (named("main", "abcdef1"), ("main", "abcdef1")),
        (named("PR #7", "abcdef1"), ("PR #7", "abcdef1")),
        ("cekura-ci · acme/app · main · run 1.1 · gate · x", ("main", None)),
        ("nightly", (None, None)),
        (None, (None, None)),
    ],
)
def test_name_parts_when_read_from_a_default_name(name, parts) -> None:
    assert name_parts(name) == parts


@pytest.mark.parametrize(
    ("context", "given", "branch"),
    [
        (PR, "", "main"),  # a pull request: where the change lands
        (RunContext(repository="acme/app", ref_name="main", default_branch="main"), "", "main"),
        (RunContext(repository="acme/app", ref_name="next", default_branch="main"), "", "next"),
        (PR, "release/2", "release/2"),
    ],
)
def test_history_branch_when_chosen_follows_the_context(
    make_settings, context, given, branch
) -> None:
    """Nightly on main: main's own history; a pull request: its base branch's."""
    from cekura_ci.history import history_branch

    assert history_branch(make_settings(baseline_branch=given), context) == branch
