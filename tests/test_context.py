"""The CI context: default result names, the branch prefix that finds them, the base branch."""

from __future__ import annotations

import json
from pathlib import Path

from cekura_ci.context import RunContext

PR_ENV = {
    "GITHUB_REPOSITORY": "acme/agent",
    "GITHUB_REF_NAME": "17/merge",
    "GITHUB_HEAD_REF": "fix-greeting",
    "GITHUB_BASE_REF": "main",
    "GITHUB_SHA": "0123456789abcdef",
    "GITHUB_RUN_ID": "555",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "gate",
    "GITHUB_EVENT_NAME": "pull_request",
}


def test_result_name_when_on_a_pull_request_names_repo_pr_sha_run_and_token() -> None:
    """The default name is unique per step and findable by a human."""
    context = RunContext.from_environ(PR_ENV)
    assert (
        context.result_name(token="abc123")
        == "cekura-ci · acme/agent · PR #17 · 0123456 · run 555.2 · gate · abc123"
    )


def test_result_name_when_called_twice_differs() -> None:
    """Two steps of the same job (or matrix legs) never share a name."""
    env = {"GITHUB_REPOSITORY": "acme/agent", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "1"}
    context = RunContext.from_environ(env)
    assert context.result_name() != context.result_name()


def test_result_name_when_on_a_branch_starts_with_the_branch_prefix() -> None:
    """A push to main is named so that `name_prefix("main")` finds it, and only on main."""
    env = {"GITHUB_REPOSITORY": "acme/agent", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "9"}
    context = RunContext.from_environ(env)
    assert context.name_prefix("main") == "cekura-ci · acme/agent · main · "
    assert context.result_name(token="t").startswith(context.name_prefix("main"))
    assert not context.result_name().startswith(context.name_prefix("mai"))


def test_result_name_when_parts_are_very_long_keeps_the_prefix_and_the_token() -> None:
    """Cekura's 255-character limit shortens the tail, never the searchable prefix or the token."""
    env = {
        "GITHUB_REPOSITORY": "acme/agent",
        "GITHUB_REF_NAME": "b" * 120,
        "GITHUB_RUN_ID": "1",
        "GITHUB_JOB": "j" * 200,
    }
    context = RunContext.from_environ(env)
    name = context.result_name(token="tok123")
    assert len(name) <= 255
    assert name.startswith(context.name_prefix("b" * 120)) and name.endswith("tok123")


def test_result_name_when_outside_ci_says_local() -> None:
    assert RunContext.from_environ({}).result_name(token="x1") == "cekura-ci local x1"


def test_base_branch_when_on_a_pull_request_is_the_base_ref() -> None:
    context = RunContext.from_environ(PR_ENV)
    assert (context.branch, context.base_branch, context.pull_request) == (
        "fix-greeting",
        "main",
        17,
    )


def test_base_branch_when_pushed_is_the_default_branch_from_the_event(tmp_path: Path) -> None:
    """Outside a pull request the base is the repository's default branch, read from the event."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}))
    env = {
        "GITHUB_REPOSITORY": "acme/agent",
        "GITHUB_REF_NAME": "nightly",
        "GITHUB_EVENT_PATH": str(event),
    }
    context = RunContext.from_environ(env)
    assert (context.branch, context.base_branch, context.pull_request) == ("nightly", "trunk", None)


def test_event_payload_when_unreadable_is_ignored(tmp_path: Path) -> None:
    """A missing or garbled event file leaves the default branch unknown, nothing more."""
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    for path in (str(bad), str(tmp_path / "missing.json")):
        context = RunContext.from_environ({"GITHUB_REPOSITORY": "a/b", "GITHUB_EVENT_PATH": path})
        assert context.default_branch == ""


def test_run_url_when_on_ci_links_the_attempt_on_the_configured_server() -> None:
    """GitHub Enterprise Server: the server URL comes from the runner, not a constant."""
    env = {**PR_ENV, "GITHUB_SERVER_URL": "https://ghe.example.com/"}
    assert (
        RunContext.from_environ(env).run_url
        == "https://ghe.example.com/acme/agent/actions/runs/555/attempts/2"
    )
