"""The action's and the CLI's front door: bad input is refused before anything is sent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import responses

from cekura_ci import cli
from tests.helpers import read_outputs
from tests.test_entrypoint import action_env
from tests.test_settings import BAD_INPUTS


@responses.activate  # with nothing registered, any request would fail the test loudly
@pytest.mark.parametrize(
    ("name", "value"), [*BAD_INPUTS, ("api_key", ""), ("api_key", "two words")]
)
def test_action_when_an_input_is_malformed_exits_2_naming_it_and_sends_nothing(
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    inputs = {
        "api_key": "ck_test_front_door_123",
        "agent_id": "42",
        "scenario_ids": "101",
        name: value,
    }
    env = action_env(workspace, **inputs)
    assert cli.action_main(env) == 2
    assert len(responses.calls) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("::error")]
    assert line.startswith(f"::error title=Cekura gate::Invalid input '{name}'")
    assert "Traceback" not in out
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "error" and outputs["passed"] == "false"
    assert "could not run" in (workspace / "step_summary.md").read_text()


def test_cli_when_flag_is_malformed_exits_2_outside_github(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "run",
            "--api-key",
            "k-cli-test-0042",
            "--agent-id",
            "42",
            "--scenario-ids",
            "1",
            "--frequency",
            "0",
        ],
        environ={},
    )
    assert code == 2
    out = capsys.readouterr().out
    assert (
        "error: Cekura gate: Invalid input 'frequency': got '0'; expected a whole number from 1 to 100."
        in out
    )
    assert "::" not in out


def test_cli_when_env_and_flags_both_given_flags_win(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def fake_gate(settings, github, clock, context=None):
        seen["settings"] = settings

        class Gate:
            def run(self):
                return 0

        return Gate()

    monkeypatch.setattr(cli, "build_gate", fake_gate)
    env = {
        "CEKURA_API_KEY": "ck_test_cli_env_key_1",
        "CEKURA_AGENT_ID": "7",
        "CEKURA_SCENARIO_IDS": "1,2",
        "CEKURA_FREQUENCY": "2",
    }
    assert cli.main(["run", "--frequency", "3"], environ=env) == 0
    settings = seen["settings"]
    assert (settings.agent_id, settings.scenario_ids, settings.frequency) == (7, (1, 2), 3)
    assert settings.name.startswith("cekura-ci local ")


def test_guarded_when_a_bug_escapes_exits_3_and_says_to_report_it(workspace: Path) -> None:
    from cekura_ci.github import GitHub

    stream = io.StringIO()

    def broken():
        raise KeyError("boom")

    assert cli.guarded(GitHub({}, stream), None, broken) == 3
    assert (
        "Unexpected error in cekura-ci" in stream.getvalue()
        and "Please report it" in stream.getvalue()
    )


def test_guarded_when_a_bug_escapes_after_the_run_started_names_the_result(
    workspace: Path,
) -> None:
    """The calls may still be going: the error summary says which result and how to wait for it."""
    from cekura_ci.github import GitHub

    summary = workspace / "summary.md"
    github = GitHub({"GITHUB_STEP_SUMMARY": str(summary)}, io.StringIO())

    def broken_after_start():
        github.set_output("result_id", 9001)
        raise KeyError("boom")

    assert cli.guarded(github, None, broken_after_start) == 3
    text = summary.read_text()
    assert "Result **9001** was started" in text and "`result_id` input set to 9001" in text


def _summary_for_empty_key(workspace: Path, head: str) -> str:
    payload = workspace / "event.json"
    event = {"pull_request": {"number": 7, "head": {"repo": {"full_name": head}}}}
    payload.write_text(json.dumps(event))
    env = action_env(workspace, api_key="", agent_id="42", scenario_ids="101")
    env.update(GITHUB_REPOSITORY="acme/agent", GITHUB_EVENT_PATH=str(payload))
    assert cli.action_main(env) == 2
    return (workspace / "step_summary.md").read_text()


def test_error_summary_when_the_key_is_empty_on_a_fork_says_forks_get_no_secrets(
    workspace: Path,
) -> None:
    """Each cause gets its own advice, said once: a fork's pull request gets no secrets."""
    summary = _summary_for_empty_key(workspace, head="stranger/agent")
    assert "comes from a fork" in summary and summary.count("no secrets") == 1
    assert "Settings → Secrets" not in summary


def test_error_summary_when_the_key_is_empty_on_the_repository_says_to_set_the_secret(
    workspace: Path,
) -> None:
    summary = _summary_for_empty_key(workspace, head="acme/agent")
    assert "Settings → Secrets and variables → Actions" in summary and "fork" not in summary
    assert summary.count("empty") == 2  # the input's problem, then the cause: once each
