"""The stand-in's front door: real HTTP on loopback, routing and aliases, the key, faults, the
request log, world files, its own command line, and its independence from the gate."""

from __future__ import annotations

import ast
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from pydantic import ValidationError

from cekura_ci.emulator.world import World, demo_world, load_world
from tests.helpers import API_KEY, FakeClock, scenario

V1 = "/test_framework/v1"
RUN = f"{V1}/scenarios/run_scenarios_livekit_v2/"
RESULTS = f"{V1}/results/"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}
EMULATOR = Path(__file__).resolve().parent.parent / "cekura_ci" / "emulator"


def post_run(server, body=None, headers=HEADERS, path=RUN):
    body = (
        body
        if body is not None
        else {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 1, "name": "r"}
    )
    return requests.post(server.url + path, json=body, headers=headers, timeout=5)


def test_trigger_when_valid_answers_pending_runs_as_a_list(make_world, serve) -> None:
    """The run request answers the result id and its pending runs, one per scenario × repetition."""
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
    """No key and a wrong key are both 401, with DRF's words."""
    server = serve(make_world())
    assert post_run(server, headers={}).json() == {
        "detail": "Authentication credentials were not provided."
    }
    wrong = post_run(server, headers={"X-CEKURA-API-KEY": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid API key."}


def test_key_when_wrong_is_refused_before_any_injected_fault(make_world, serve) -> None:
    """A wrong key gets 401, never the 503 a fault injects, and does not use up the fault."""
    server = serve(make_world(faults=[{"endpoint": "any", "at": [1], "kind": "status"}]))
    url = server.url + f"{V1}/aiagents/42/"
    assert requests.get(url, headers={"X-CEKURA-API-KEY": "nope"}, timeout=5).status_code == 401
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers=HEADERS, timeout=5).status_code == 503
    assert requests.get(url, headers=HEADERS, timeout=5).status_code == 200


def test_paths_when_given_with_or_without_the_trailing_slash_reach_the_same_endpoint(
    make_world, serve
) -> None:
    """The SDK sends paths without the slash; both forms are served, GET and POST alike."""
    server = serve(make_world())
    result_id = post_run(server, path=RUN.rstrip("/")).json()["id"]
    for path in (f"{RESULTS}{result_id}", f"{RESULTS}{result_id}/"):
        assert requests.get(server.url + path, headers=HEADERS, timeout=5).json()["id"] == result_id
    assert [r.endpoint for r in server.requests] == ["trigger", "result", "result"]


@pytest.mark.parametrize(
    "path",
    [
        f"{V1}/scenarios-external/run_scenarios_livekit_v2/",
        "/test_framework/v2/scenarios/run_scenarios_livekit_v2/",
    ],
)
def test_aliases_when_used_start_and_read_the_same_results(make_world, serve, path) -> None:
    """`-external` and v2 forms are the same endpoints as the v1 paths."""
    server = serve(make_world())
    result_id = post_run(server, path=path).json()["id"]
    for read in (f"{RESULTS}{result_id}/", f"{V1}/results-external/{result_id}/"):
        assert requests.get(server.url + read, headers=HEADERS, timeout=5).json()["id"] == result_id
    listed = requests.get(server.url + f"{V1}/results-external/", headers=HEADERS, timeout=5)
    assert [row["id"] for row in listed.json()["results"]] == [result_id]


def test_method_when_wrong_answers_405_after_the_key_check(make_world, serve) -> None:
    """DRF: authentication first, then `Method "GET" not allowed.` with an Allow header."""
    server = serve(make_world())
    answer = requests.get(server.url + RUN, headers=HEADERS, timeout=5)
    assert answer.status_code == 405 and answer.json() == {"detail": 'Method "GET" not allowed.'}
    assert answer.headers["Allow"] == "POST, OPTIONS"
    assert (
        requests.delete(server.url + f"{RESULTS}1/", headers=HEADERS, timeout=5).status_code == 405
    )
    assert requests.get(server.url + RUN, timeout=5).status_code == 401


def test_path_when_unknown_answers_djangos_404_page_whatever_the_key(make_world, serve) -> None:
    """An unrouted path never reaches DRF: HTML, not JSON, and no key needed to learn that."""
    server = serve(make_world())
    for headers in (HEADERS, {}):
        answer = requests.get(server.url + f"{V1}/nothing/here/", headers=headers, timeout=5)
        assert answer.status_code == 404 and "text/html" in answer.headers["Content-Type"]
        assert "<h1>Not Found</h1>" in answer.text


def test_body_when_not_json_is_refused_as_drf_refuses_it(make_world, serve) -> None:
    """Broken JSON is a 400 parse error; a media type no parser reads is a 415."""
    server = serve(make_world())
    broken = requests.post(
        server.url + RUN,
        data=b'{"agent": 42,',
        headers={**HEADERS, "Content-Type": "application/json"},
        timeout=5,
    )
    assert broken.status_code == 400 and broken.json()["detail"].startswith("JSON parse error - ")
    text = requests.post(
        server.url + RUN,
        data=b"agent=42",
        headers={**HEADERS, "Content-Type": "text/plain"},
        timeout=5,
    )
    assert text.status_code == 415
    assert text.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


def test_endpoints_when_the_world_forbids_them_answer_403(make_world, serve) -> None:
    """A project-scoped key: billing says why in the document's words, others as DRF does."""
    server = serve(make_world(forbidden=["billing", "export", "run_json"]))
    billing = requests.get(server.url + "/test_framework/billing/info/", headers=HEADERS, timeout=5)
    assert billing.status_code == 403
    assert billing.json() == {"detail": "Project-scoped API keys are not allowed."}
    export = requests.get(
        server.url + f"{V1}/scenarios/export_scenarios/",
        params={"scenario_ids": "101", "agent_id": 42, "export_type": "json"},
        headers=HEADERS,
        timeout=5,
    )
    assert export.status_code == 403
    priced = requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_json/?dry_run=true",
        json={},
        headers=HEADERS,
        timeout=5,
    )
    assert priced.status_code == 403
    assert post_run(server).status_code == 200


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
    url = server.url + f"{V1}/aiagents/42/"
    first = requests.get(url, headers=HEADERS, timeout=5)
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert requests.get(url, headers=HEADERS, timeout=5).headers["Content-Type"] == "text/html"
    with pytest.raises(json.JSONDecodeError):
        json.loads(requests.get(url, headers=HEADERS, timeout=5).text)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=HEADERS, timeout=5)
    started = time.monotonic()
    assert (
        requests.get(url, headers=HEADERS, timeout=5).status_code == 200
        and time.monotonic() - started >= 0.3  # the slow fault's delay is real time on purpose
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


def test_request_log_when_read_over_http_lists_what_was_sent_without_the_key(
    make_world, serve
) -> None:
    server = serve(make_world())
    post_run(server)
    log = requests.get(server.url + "/_emulator/requests", timeout=5).json()
    assert (
        log[0]["endpoint"] == "trigger"
        and log[0]["authorized"] is True
        and log[0]["body"]["name"] == "r"
    )
    assert API_KEY not in json.dumps(log)


def test_request_log_when_runs_are_started_or_only_priced_says_which(make_world, serve) -> None:
    """`starts_runs` marks every request that asked for calls, refused or not; a dry run does not."""
    server = serve(make_world())
    spec = {"version": "1", "scenarios": [{"name": "Scenario 101", "instructions": "Call."}]}
    body = {"agent_id": 42, "channel": "livekit_v2", "spec": spec}
    requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_json/?dry_run=true",
        json=body,
        headers=HEADERS,
        timeout=5,
    )
    requests.get(server.url + RESULTS, headers=HEADERS, timeout=5)
    assert not any(entry["starts_runs"] for entry in _log(server))
    post_run(server, {"agent": 42, "scenarios": []})
    started = post_run(server).json()["id"]
    requests.post(
        server.url + f"{V1}/scenarios/run_scenarios_json/", json=body, headers=HEADERS, timeout=5
    )
    log = _log(server)
    assert [e["starts_runs"] for e in log] == [False, False, True, True, True]
    assert [e["created_result"] for e in log][2:] == [None, started, started + 1]


def _log(server) -> list[dict]:
    return requests.get(server.url + "/_emulator/requests", timeout=5).json()


def test_world_when_written_in_yaml_loads(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "agents": [{"id": 1, "agent_name": "A"}],
                "scenarios": [{"id": 5, "name": "S", "agent": 1, "outcome": "flaky"}],
                "past_results": [{"name": "old", "agent": 1, "age": "3d 4h"}],
            }
        )
    )
    world = load_world(path)
    assert world.scenarios[0].outcome_of(1) == "pass" and world.scenarios[0].outcome_of(2) == "fail"
    assert world.past_results[0].age == 3 * 86400 + 4 * 3600


@pytest.mark.parametrize(
    "past",
    [
        {"name": "x", "agent": 42, "age": "yesterday"},
        {"name": "x", "agent": 42, "age": "1d", "outcomes": {"999": "pass"}},
        {"name": "x", "agent": 7, "age": "1d"},
    ],
)
def test_world_when_an_earlier_result_is_malformed_is_refused(make_world, past) -> None:
    """An unreadable age, an unknown scenario or agent in `past_results` is a world error."""
    with pytest.raises(ValidationError):
        make_world(past_results=[past])


def test_demo_world_when_loaded_has_a_regression_against_main_and_a_subfolder() -> None:
    """Scenario 103 fails now and passed on main a day and days ago; folders nest."""
    world = demo_world()
    outcomes = {s.id: tuple(s.outcome) for s in world.scenarios}
    assert outcomes[103] == ("fail",) and any(
        "pass" in o and "fail" in o for o in outcomes.values()
    )
    prefix = "cekura-ci · acme/dental-agent · main · "
    on_main = [
        p for p in world.past_results if p.name.startswith(prefix) and p.status == "completed"
    ]
    assert {p.age for p in on_main if p.outcomes.get(103) == ["pass"]} >= {86400.0, 4 * 86400.0}
    assert any(p.status == "running" and p.name.startswith(prefix) for p in world.past_results)
    assert any("." in (s.folder_path or "") for s in world.scenarios)


def test_emulator_when_imported_needs_nothing_else_of_cekura_ci() -> None:
    """It could be lifted out as a package: no import of the gate, statically or at run time."""
    for source in EMULATOR.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("cekura_ci"), source.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("cekura_ci") for a in node.names), source.name
    code = (
        "import json, sys, cekura_ci.emulator.cli; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cekura_ci'))))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(shown.stdout)
    assert [m for m in modules if not m.startswith("cekura_ci.emulator")] == ["cekura_ci"]


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
                url + f"{V1}/aiagents/42/", headers={"X-CEKURA-API-KEY": "k1"}, timeout=5
            ).status_code
            == 200
        )
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_emulator_command_when_given_a_speed_runs_results_at_that_speed() -> None:
    """`--speed 100000`: the demo world's few emulated minutes pass before the first poll."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cekura_ci", "emulator", "--port", "0", "--speed", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "speed x100000" in line
        url = line.split("listening on ")[1].split(" ")[0]
        headers = {"X-CEKURA-API-KEY": demo_world().api_key}
        body = {"agent": 42, "scenarios": [{"scenario": 101}], "name": "speed"}
        started = requests.post(url + RUN, json=body, headers=headers, timeout=5).json()
        time.sleep(0.2)  # 20,000 emulated seconds; at the world's own speed (40), 5 s
        detail = requests.get(url + RESULTS + f"{started['id']}/", headers=headers, timeout=5)
        assert detail.json()["status"] == "completed"
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize(
    "command",
    [["-m", "cekura_ci", "emulator", "--help"], ["-m", "cekura_ci.emulator", "--help"]],
)
def test_emulator_help_when_asked_lists_the_stand_ins_own_flags(command: list[str]) -> None:
    """`cekura-ci emulator` hands its arguments to the stand-in's own parser."""
    shown = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, check=True
    ).stdout
    assert all(flag in shown for flag in ("--host", "--port", "--world", "--api-key", "--speed"))


def test_demo_when_run_finishes_and_writes_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README command one: the real gate against the built-in world, no account, no network (on
    a fake clock here; .ci/run runs the real command in real time)."""
    from cekura_ci.demo import run_demo

    monkeypatch.chdir(tmp_path)
    assert run_demo(None, "cekura-demo-summary.md", environ={}, clock=FakeClock()) == 0
    out = capsys.readouterr().out
    assert "Demo done: the gate failed" in out and "retrying in" in out
    summary = (tmp_path / "cekura-demo-summary.md").read_text()
    assert summary.startswith("## ❌ Cekura gate failed") and "*(flaky)*" in summary
    # As a pull request into main: a regression against main, an old failure that no longer
    # blocks, and main's history.
    assert summary.startswith("## ❌ Cekura gate failed: 1 scenario regressed against main")
    assert "| ❌ regressed | Cancel with less than 24h notice | 103 | 3/3 | 0/3 |" in summary
    assert "| ⚠️ still failing | Caller asks for a price estimate | 104 |" in summary
    assert "### History on main" in summary and "| 103 | ✅ ✅ ✅ | ❌ |" in summary


def test_demo_when_asked_for_the_exit_code_returns_the_gates(
    tmp_path: Path, make_world, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--exit-code` gives the gate's own code; `--world` and `--summary-file` are honoured."""
    from cekura_ci import cli

    world = make_world([scenario(101, outcome="fail")], speed=10_000_000)
    path = tmp_path / "world.json"
    path.write_text(world.model_dump_json())
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "out.md"
    args = ["demo", "--world", str(path), "--summary-file", str(summary)]
    assert cli.main([*args, "--exit-code"], environ={}) == 1
    assert cli.main(args, environ={}) == 0 and summary.read_text().startswith("## ❌")


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("missing.json", None, "cannot read the world file"),
        ("bad.json", '{"scenarios": [{"id": "x"}]}', "is not a world: scenarios.0.id"),
        ("bad.yml", "scenarios: [", "is not valid YAML"),
        ("truncated.json", '{"agents": [', "is not valid JSON"),
    ],
)
@pytest.mark.parametrize("command", ["demo", "emulator"])
def test_world_file_when_unusable_exits_2_with_one_line_not_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    content: str | None,
    said: str,
) -> None:
    """`--world` with a missing or malformed file: it once ended in a Python traceback and exit
    1 (which, for the demo, reads as "the gate failed")."""
    from cekura_ci import cli

    if content is not None:
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(tmp_path)
    if command == "emulator":
        with pytest.raises(SystemExit) as exited:
            cli.main(["emulator", "--world", name], environ={})
        code = exited.value.code
    else:
        code = cli.main(["demo", "--world", name], environ={})
    assert code == 2
    err = capsys.readouterr().err
    assert f"cekura-ci {command}: error: " in err and said in err and "Traceback" not in err


def test_demo_when_the_world_has_no_agent_with_scenarios_exits_2_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo runs the first agent's scenarios: none is a usage error, not an IndexError."""
    from cekura_ci import cli

    (tmp_path / "empty.json").write_text('{"agents": [], "scenarios": []}')
    assert cli.main(["demo", "--world", str(tmp_path / "empty.json")], environ={}) == 2
    err = capsys.readouterr().err
    assert "holds no agent with scenarios" in err and "Traceback" not in err


def test_result_when_unknown_is_404(make_world, serve) -> None:
    server = serve(make_world())
    answer = requests.get(server.url + RESULTS + "12345/", headers=HEADERS, timeout=5)
    assert answer.status_code == 404 and answer.json() == {
        "detail": "No Result matches the given query."
    }
    odd = requests.get(server.url + RESULTS + "abc/", headers=HEADERS, timeout=5)
    assert odd.status_code == 404 and odd.json() == {"detail": "Not found."}


def test_emulator_when_driven_by_a_fake_clock_never_sleeps(make_world, serve) -> None:
    """Time is the injected clock's: a ten-minute call is over as soon as the clock says so."""
    clock = FakeClock()
    server = serve(make_world([scenario(101, duration=600)]), clock=clock.now)
    result_id = post_run(server).json()["id"]
    clock.t = 10_000
    detail = requests.get(server.url + f"{RESULTS}{result_id}/", headers=HEADERS, timeout=5)
    assert detail.json()["status"] == "completed"


def test_readme_world_example_when_loaded_is_a_valid_world() -> None:
    """The world file shown in the README's stand-in section is one the stand-in accepts."""
    readme = (EMULATOR.parent.parent / "README.md").read_text()
    section = readme.split("## The local Cekura stand-in", 1)[1].split("\n## ", 1)[0]
    [block] = section.split("```yaml\n")[1:]
    world = World.model_validate(yaml.safe_load(block.split("```", 1)[0]))
    assert world.past_results and world.forbidden == ["billing"] and world.timing.result_timeout


def test_demo_world_when_its_main_results_are_named_they_are_named_as_the_gate_names_them() -> None:
    """The 1-day-old result is exactly what cekura-ci calls a push run on main; all share the prefix."""
    from cekura_ci.context import RunContext

    push = RunContext(
        repository="acme/dental-agent",
        ref_name="main",
        sha="1a2b3c4d5e6f",
        run_id="41",
        run_attempt="1",
        job="gate",
        event_name="push",
    )
    names = {p.age: p.name for p in demo_world().past_results}
    assert names[86400.0] == push.result_name(token="9f8e7d")
    on_main = [n for n in names.values() if n.startswith(push.name_prefix("main"))]
    assert len(on_main) == 4


def test_request_when_content_length_is_negative_is_refused_at_once(make_world, serve) -> None:
    """A negative Content-Length once held a thread reading forever: 400 at once."""
    server = serve(make_world())
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST {RUN} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode())
        status_line = sock.makefile("rb").readline()
    assert status_line.split()[1] == b"400"
