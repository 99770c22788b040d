"""The examples work when copied: what each promises is in the file, and nothing overrides the
user's own settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_shell_example_when_run_takes_every_input_from_the_cekura_variables() -> None:
    """No hard-coded flag may override CEKURA_AGENT_ID and friends (it silently tested 2142)."""
    script = (EXAMPLES / "shell" / "run-gate.sh").read_text()
    command = script[script.index("cekura-ci run") :]
    assert re.findall(r"--[a-z-]+", command) == []
    assert command.rstrip().endswith('run "$@"')


def test_pull_request_example_when_pushed_again_cancels_the_superseded_run() -> None:
    workflow = yaml.safe_load((EXAMPLES / "pull-request.yml").read_text())
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in workflow["concurrency"]["group"]


def test_pull_request_example_when_from_a_fork_is_not_skipped_and_tests_its_own_build() -> None:
    """A skipped job satisfies a required check, so the gate job has no fork condition; the run
    targets the pull request's preview worker and keeps one comment up to date."""
    job = yaml.safe_load((EXAMPLES / "pull-request.yml").read_text())["jobs"]["cekura"]
    assert "if" not in job and job["permissions"]["pull-requests"] == "write"
    gate = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("cekura-ci/"))
    assert gate["with"]["comment"] == "update"
    assert "steps.preview.outputs.agent_name" in gate["with"]["livekit_data"]


def test_sticky_comment_example_when_looked_for_is_replaced_by_the_comment_input() -> None:
    assert not (EXAMPLES / "sticky-comment.yml").exists()


def test_gitlab_example_when_copied_needs_no_git_and_gates_merge_requests() -> None:
    job = yaml.safe_load((EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text())["voice-agent-gate"]
    assert not any("git+" in line for line in job["script"])
    assert job["image"]["entrypoint"] == [""] and job["interruptible"] is True
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    assert job["artifacts"]["reports"]["junit"] in job["artifacts"]["paths"]


def test_main_and_pull_request_examples_when_copied_compare_pull_requests_with_main() -> None:
    """The recommended pattern: results on main under the default names, pull requests with
    `baseline: auto` against them."""
    main = yaml.safe_load((EXAMPLES / "main.yml").read_text())
    assert main[True]["push"]["branches"] == ["main"] and "schedule" in main[True]
    [gate] = [s for s in main["jobs"]["cekura"]["steps"] if "cekura-ci/" in str(s.get("uses"))]
    assert "name" not in gate["with"] and gate["with"]["baseline"] == "auto"
    assert main["concurrency"]["cancel-in-progress"] is False  # a baseline is never cut short
    pull = yaml.safe_load((EXAMPLES / "pull-request.yml").read_text())
    [gate] = [s for s in pull["jobs"]["cekura"]["steps"] if "cekura-ci/" in str(s.get("uses"))]
    assert gate["with"]["baseline"] == "auto" and "name" not in gate["with"]
