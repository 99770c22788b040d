"""End to end: the action as the runner runs it, against the stand-in.

Every input of action.yml is passed as INPUT_<NAME> with its declared default unless the step
sets it, with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE and the usual context. Most
tests call the entry point in-process on fake time shared with the stand-in, so riding out
back-off and waiting for calls cost nothing; `entrypoint.py` runs as a real process where the
process is the point (the runner's way of starting it, signals, the command line).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cekura_ci import cli
from tests.helpers import API_KEY, FakeClock, read_outputs, scenario

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def action_env(
    workspace: Path, context: dict[str, str] | None = None, **inputs: str
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workspace),
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(workspace / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "step_summary.md"),
        "GITHUB_REPOSITORY": "acme/dental-agent",
        "GITHUB_REF_NAME": "42/merge",
        "GITHUB_HEAD_REF": "fix-greeting",
        "GITHUB_SHA": "3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49",
        "GITHUB_RUN_ID": "9876543210",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "voice-gate",
        "GITHUB_EVENT_NAME": "pull_request",
        "RUNNER_TEMP": str(workspace),
        **(context or {}),
    }
    for name, spec in ACTION["inputs"].items():
        value = inputs.get(name, str(spec.get("default", "")))
        env["INPUT_" + name.upper().replace(" ", "_")] = RUNNER_EXPRESSIONS.get(value, value)
    return env


#: What the runner makes of the expression defaults in action.yml, outside a matrix.
RUNNER_EXPRESSIONS = {
    "${{ github.token }}": "ghs_job_token_for_tests",
    "${{ toJSON(matrix) }}": "null",
}


def entrypoint(
    workspace: Path, context: dict[str, str] | None = None, **inputs: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=action_env(workspace, context, **inputs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_result_id(workspace: Path, limit: float = 30) -> None:
    """Block until the action has set the result_id output (a real process: real time)."""
    deadline = time.monotonic() + limit
    while "result_id" not in read_outputs(workspace / "github_output"):
        assert time.monotonic() < deadline, "the action never set result_id"
        time.sleep(0.05)


def finished(workspace: Path, code: int, stdout: str) -> tuple[int, str, dict[str, str], str]:
    assert "Traceback" not in stdout, stdout
    return (
        code,
        stdout,
        read_outputs(workspace / "github_output"),
        (workspace / "step_summary.md").read_text(),
    )


def run_entrypoint(
    workspace: Path, context: dict[str, str] | None = None, **inputs: str
) -> tuple[int, str, dict[str, str], str]:
    """entrypoint.py as a real process, exactly as the runner starts the container."""
    process = entrypoint(workspace, context, **inputs)
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    return finished(workspace, process.returncode, stdout)


@pytest.fixture
def run_action(workspace: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]):
    """The action's entry point in-process, on the fake clock the stand-in also runs on."""

    def run(context: dict[str, str] | None = None, **inputs: str):
        """`context` replaces GITHUB_* variables of the default pull request's."""
        code = cli.action_main(action_env(workspace, context, **inputs), clock=clock)
        return finished(workspace, code, capsys.readouterr().out)

    return run


@pytest.fixture
def fast_world(make_world):
    def make(scenarios=None, **extra):
        return make_world(
            scenarios,
            speed=1_000_000,  # real processes: the calls end before the first poll
            timing={"in_queue": 10, "scaling_up": 10, "evaluating": 20},
            **extra,
        )

    return make


@pytest.fixture
def serve_on_clock(serve, clock: FakeClock):
    """A stand-in whose time is the fake clock's: in-process gates wait no real time."""

    def start(world):
        return serve(world.model_copy(update={"speed": 1}), clock=clock.now)

    return start


def inputs_for(server, **extra: str) -> dict[str, str]:
    return {
        "api_key": API_KEY,
        "agent_id": "42",
        "api_url": server.url,
        "poll_interval": "1",
        **extra,
    }


def test_action_when_gate_passes_exits_0_with_outputs_and_summary(
    fast_world, serve, workspace: Path
) -> None:
    """The runner's own way, a pull request into main with `baseline: auto`: main's newest result
    is found by its name, and the scenario that failed there is fixed now."""
    main = "cekura-ci · acme/dental-agent · main · 1a2b3c4 · run 7.1 · voice-gate · 0f0f0f"
    past = [{"id": 8000, "name": main, "agent": 42, "age": "1d", "outcomes": {"102": "fail"}}]
    server = serve(fast_world(past_results=past))
    code, stdout, outputs, summary = run_entrypoint(
        workspace,
        {"GITHUB_BASE_REF": "main"},
        **inputs_for(server, scenario_ids="101\n102", baseline="auto"),
    )
    assert code == 0, stdout
    assert (
        outputs["outcome"] == "passed"
        and outputs["passed"] == "true"
        and outputs["total_runs"] == "2"
    )
    assert outputs["baseline_result_id"] == "8000" and outputs["fixed_scenarios"] == "[102]"
    assert summary.startswith("## ✅ Cekura gate passed: no scenario regressed against main")
    assert (workspace / "cekura-summary.md").read_text() == summary and outputs[
        "summary_file"
    ] == "cekura-summary.md"
    [trigger] = [r for r in server.requests if r.endpoint == "trigger"]
    assert trigger.body["name"].startswith(
        "cekura-ci · acme/dental-agent · PR #42 · 3f2a9c1 · run 9876543210.1 · voice-gate · "
    )
    assert trigger.body["agent"] == 42 and trigger.body["frequency"] == 1
    assert trigger.body["scenarios"] == [{"scenario": 101}, {"scenario": 102}]
    assert set(trigger.body) == {"agent", "scenarios", "frequency", "name"}  # the rest: unset
    assert "::add-mask::" + API_KEY in stdout


def test_action_when_a_scenario_fails_exits_1(fast_world, serve_on_clock, run_action) -> None:
    server = serve_on_clock(
        fast_world([scenario(101), scenario(102, "Cancel late", outcome="fail")])
    )
    code, stdout, outputs, summary = run_action(**inputs_for(server, scenario_ids="101,102"))
    assert code == 1
    assert (
        outputs["outcome"] == "failed"
        and outputs["failed_scenarios"] == "[102]"
        and outputs["pass_rate"] == "50.00"
    )
    assert "## ❌ Cekura gate failed" in summary and "Cancel late" in summary
    assert "::error title=Scenario failed%3A Cancel late [102]::" in stdout


def test_action_when_frequency_3_and_threshold_below_100_passes_with_a_flaky_scenario(
    fast_world, serve_on_clock, run_action
) -> None:
    """Flaky 2/3 next to 3/3: 5 of 6 is 83%, above an 80% threshold."""
    server = serve_on_clock(fast_world([scenario(101), scenario(102, outcome="flaky")]))
    code, stdout, outputs, summary = run_action(
        **inputs_for(server, scenario_ids="101,102", frequency="3", pass_threshold="80%")
    )
    assert code == 0, stdout
    assert (outputs["total_runs"], outputs["passed_runs"], outputs["pass_rate"]) == (
        "6",
        "5",
        "83.33",
    )
    assert outputs["flaky_scenarios"] == "[102]" and "*(flaky)*" in summary
    assert "::warning title=Scenario flaky%3A Scenario 102 [102]::2/3 runs passed" in stdout


def test_action_when_runs_error_reports_infrastructure_failures(
    fast_world, serve_on_clock, run_action
) -> None:
    server = serve_on_clock(
        fast_world([scenario(101, outcome="error", error_message="LiveKit room never joined")])
    )
    code, _, outputs, summary = run_action(**inputs_for(server, scenario_ids="101", frequency="2"))
    assert code == 1
    assert (
        outputs["infra_failed_runs"] == "2"
        and "LiveKit room never joined" in summary
        and "🔌" in summary
    )


def test_action_when_scenario_id_unknown_exits_2_with_the_api_message(
    fast_world, serve_on_clock, run_action
) -> None:
    server = serve_on_clock(fast_world())
    code, stdout, outputs, summary = run_action(**inputs_for(server, scenario_ids="101,999"))
    assert code == 2
    assert 'Invalid pk "999" - object does not exist.' in stdout and "999" in summary
    assert outputs["outcome"] == "error" and "could not run" in summary


def test_action_when_key_is_wrong_exits_2(fast_world, serve_on_clock, run_action) -> None:
    server = serve_on_clock(fast_world())
    code, stdout, outputs, _ = run_action(
        **inputs_for(server, scenario_ids="101", api_key="ck_test_wrong_key_0000")
    )
    assert code == 2 and "Cekura refused the API key" in stdout and outputs["outcome"] == "error"


def test_action_when_input_is_bad_exits_2_and_sends_nothing(
    fast_world, serve_on_clock, run_action
) -> None:
    server = serve_on_clock(fast_world())
    code, stdout, _, _ = run_action(**inputs_for(server, scenario_ids="101", frequency="101"))
    assert code == 2
    assert (
        "::error title=Cekura gate::Invalid input 'frequency': got '101'; expected a whole number from 1 to 100."
        in stdout
    )
    assert server.requests == []


def test_action_when_polling_meets_transient_faults_rides_them_out(
    fast_world, serve_on_clock, run_action
) -> None:
    faults = [
        {"endpoint": "result", "at": [1], "kind": "status", "status": 502},
        {"endpoint": "result", "at": [2], "kind": "status", "status": 429, "retry_after": 1},
        {"endpoint": "result", "at": [3], "kind": "html"},
        {"endpoint": "result", "at": [4], "kind": "drop"},
    ]
    server = serve_on_clock(fast_world(faults=faults))
    code, stdout, outputs, _ = run_action(**inputs_for(server, scenario_ids="101"))
    assert code == 0, stdout
    assert stdout.count("retrying in") == 4 and outputs["outcome"] == "passed"


def test_action_when_trigger_answer_is_lost_adopts_the_run_instead_of_starting_another(
    fast_world, serve_on_clock, run_action
) -> None:
    """The POST is processed but its answer dropped: the run is found by name, not placed twice."""
    server = serve_on_clock(
        fast_world(faults=[{"endpoint": "trigger", "at": [1], "kind": "drop_after"}])
    )
    code, stdout, outputs, _ = run_action(**inputs_for(server, scenario_ids="101"))
    assert code == 0, stdout
    assert [r.endpoint for r in server.requests].count("trigger") == 1 and len(
        server.emulator.results
    ) == 1
    assert "adopting result 9001" in stdout and outputs["result_id"] == "9001"


@pytest.mark.parametrize(
    ("signals", "code"), [((signal.SIGTERM,), 143), ((signal.SIGINT, signal.SIGTERM), 130)]
)
def test_action_when_cancelled_ends_calls_and_exits_with_the_signal(
    fast_world, serve, workspace: Path, signals, code
) -> None:
    """GitHub sends SIGINT then SIGTERM: the calls are ended, the summary says so, exit 130/143."""
    server = serve(fast_world([scenario(101, duration=10**9)]))
    process = entrypoint(workspace, **inputs_for(server, scenario_ids="101"))
    wait_for_result_id(workspace)
    time.sleep(0.3)
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.1)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    assert "end_calls" in [r.endpoint for r in server.requests]
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "cancelled" and outputs["result_id"] == "9001"
    assert "🚫 Cekura gate cancelled" in (workspace / "step_summary.md").read_text()


def test_cli_when_run_with_flags_and_env_behaves_like_the_action(
    fast_world, serve, workspace: Path
) -> None:
    """`cekura-ci run` takes flags or CEKURA_* variables, prints the verdict, names the summary file."""
    server = serve(fast_world())
    env = {"PATH": os.environ.get("PATH", ""), "CEKURA_API_KEY": API_KEY, "CEKURA_AGENT_ID": "42"}
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "cekura_ci",
            "run",
            "--scenario-ids",
            "101,102",
            "--api-url",
            server.url,
            "--poll-interval",
            "1",
            "--summary-file",
            "out/summary.md",
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert (
        "PASSED: 100.00% of runs passed" in process.stdout
        and "Summary written to out/summary.md" in process.stdout
    )
    assert "::" not in process.stdout  # no workflow commands outside GitHub
    assert (workspace / "out" / "summary.md").read_text().startswith("## ✅")


def test_cli_when_help_is_asked_lists_every_input_with_its_default_and_variable() -> None:
    """`cekura-ci run --help` names every flag, its default and its CEKURA_* variable."""
    process = subprocess.run(
        [sys.executable, "-m", "cekura_ci", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "2000"},  # one line per flag: nothing wrapped mid-default
    )
    blocks = re.split(r"\n(?=  -)", process.stdout)
    lines = {
        block.split()[0]: " ".join(block.split()) for block in blocks if block.startswith("  --")
    }
    for name, spec in ACTION["inputs"].items():
        line = lines["--" + name.replace("_", "-")]
        default = str(spec.get("default", ""))
        if "${{" in default:  # the runner's to fill in; the command line has no such default
            default = ""
        assert (f"Default: {default}." in line) == bool(default), line
        assert f"Env: CEKURA_{name.upper()}." in line


def test_action_when_key_is_refused_the_summary_says_what_to_do(
    fast_world, serve_on_clock, run_action
) -> None:
    """Cause, fix and where to read more are in the summary, not only in the log."""
    server = serve_on_clock(fast_world())
    _, _, _, summary = run_action(
        **inputs_for(server, scenario_ids="101", api_key="ck_test_wrong_key_0000")
    )
    assert summary.count("Cekura refused the API key") == 1
    assert "HTTP 401" in summary and "fork" not in summary and ".)." not in summary
    assert summary.count("current key") == 1
    assert "[exit codes and inputs](https://" in summary


# --- the recommended pattern: results on main, pull requests compared with them ------------


def fresh_step(workspace: Path) -> None:
    """The next job's step: empty output and summary files."""
    (workspace / "github_output").write_text("")
    (workspace / "step_summary.md").write_text("")


def test_action_when_run_on_main_then_on_pull_requests_compares_each_with_main(
    fast_world, serve_on_clock, run_action, workspace: Path
) -> None:
    """A push on main finds no baseline (the thresholds decide); a pull request then compares
    with it: an old failure no longer blocks, a new one does, and main's history is shown."""
    world = fast_world(
        [scenario(101), scenario(102, "Refund"), scenario(103, "Late fee", outcome="fail")]
    )
    server = serve_on_clock(world)
    inputs = inputs_for(
        server, scenario_ids="101,102,103", frequency="3", baseline="auto", history="5"
    )
    event = workspace / "push.json"
    event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
    push = {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF_NAME": "main",
        "GITHUB_HEAD_REF": "",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
    }
    code, _, outputs, summary = run_action(push, **inputs)
    assert code == 1 and outputs["baseline_result_id"] == ""  # 103 fails the thresholds
    assert "No baseline: no finished result of agent 42 on main was found" in summary
    on_main = outputs["result_id"]

    pull_request = {"GITHUB_BASE_REF": "main"}
    fresh_step(workspace)
    code, stdout, outputs, summary = run_action(pull_request, **inputs)
    assert code == 0, stdout  # 103 failed on main too: no regression
    assert outputs["baseline_result_id"] == on_main and outputs["regressed_scenarios"] == "[]"
    assert summary.startswith(
        f"## ✅ Cekura gate passed: no scenario regressed against main (result {on_main}, 1a2b3c4"
    )
    assert "| ⚠️ still failing | Late fee | 103 | 0/3 | 0/3 | – |" in summary

    server.emulator.world.scenario(102).outcome = ["fail"]  # the next change breaks 102
    fresh_step(workspace)
    code, stdout, outputs, summary = run_action(pull_request, **inputs)
    assert code == 1 and outputs["outcome"] == "failed"
    assert outputs["regressed_scenarios"] == "[102]" and outputs["baseline_result_id"] == on_main
    assert "::error title=Scenario regressed against main%3A Refund [102]::" in stdout
    assert "| ❌ regressed | Refund | 102 | 3/3 | 0/3 | 0.05 |" in summary
    assert "### History on main" in summary and "| Refund | 102 | ✅ | ❌ |" in summary


@pytest.mark.parametrize("delay", [0.08, 0.15])
def test_entrypoint_when_cancelled_while_loading_exits_130_quietly(
    workspace: Path, delay: float
) -> None:
    """A SIGINT during the imports, before the gate takes the signals over: exit 130, no
    traceback, nothing sent."""
    process = entrypoint(workspace, api_key=API_KEY, agent_id="42", scenario_ids="101")
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    if "init_import_site" in stderr:  # a slow machine: Python itself had not started our code
        pytest.skip("the signal arrived while the interpreter was still starting")
    assert "Traceback" not in stderr
    assert process.returncode == 130
