"""The pull-request comment: rendered from the verdict under GitHub's limit, written through a
loopback stand-in of GitHub's REST API, and never able to change the verdict."""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from cekura_ci import cli, pr_comment
from cekura_ci.client import TRIGGER_PATH
from cekura_ci.context import RunContext
from cekura_ci.errors import ExitCode
from cekura_ci.report.markdown import render_comment
from cekura_ci.timing import CancelToken
from cekura_ci.verdict import Policy, judge
from tests import gfm
from tests.factories import result, run, runs_for
from tests.github_stub import GitHubStub
from tests.helpers import API_KEY, FakeClock, read_outputs, scenario
from tests.hostile import Hostile, drip, hold, json_answer
from tests.test_entrypoint import action_env

RUN_URL = "https://github.example/acme/agent/actions/runs/99/attempts/1"


@pytest.fixture
def github_api() -> Iterator[GitHubStub]:
    stub = GitHubStub().start()
    yield stub
    stub.stop()


def context_for(stub: GitHubStub, **changes: object) -> RunContext:
    values: dict[str, object] = {
        "repository": "acme/agent",
        "pull_request": 12,
        "job": "voice-gate",
        "workflow": "voice gate",
        "workflow_ref": "acme/agent/.github/workflows/gate.yml@refs/pull/12/merge",
        "event_name": "pull_request",
        "api_url": stub.url,
        "server_url": "https://github.example",
        "run_id": "99",
        "run_attempt": "1",
    }
    values.update(changes)
    return RunContext(**values)  # type: ignore[arg-type]


def post(stub: GitHubStub, body: str = "verdict", mode: str = "update", key: str = "null", **ctx):
    return pr_comment.post(
        body,
        mode=mode,
        context=context_for(stub, **ctx),
        token=SecretStr(stub.token),
        key=key,
    )


# --- the REST calls ------------------------------------------------------------------------------


def test_comment_when_updating_creates_it_once_then_edits_the_same_one(
    github_api: GitHubStub,
) -> None:
    """First run: a new comment with the hidden marker; next runs: that comment, edited."""
    first = post(github_api, "first verdict")
    second = post(github_api, "second verdict")
    assert (first.action, second.action) == ("created", "updated") and first.url == second.url
    [comment] = github_api.comments
    assert comment["body"].startswith("<!-- cekura-ci comment ")
    assert comment["body"].endswith("\nsecond verdict")
    assert [c.method for c in github_api.calls].count("POST") == 1


def test_comment_when_looking_for_its_own_ignores_other_users_and_other_markers(
    github_api: GitHubStub,
) -> None:
    """Someone quoting our marker, or our bot's comment of another job, is not ours to edit."""
    mark = pr_comment.marker(context_for(github_api), "null")
    github_api.add_comment(12, f"{mark}\nquoted by a person", "octocat")
    github_api.add_comment(12, "<!-- cekura-ci comment 0000000000000000 -->\nother job", ACTIONS)
    post(github_api, "ours")
    assert [c["body"].split("\n")[-1] for c in github_api.comments] == [
        "quoted by a person",
        "other job",
        "ours",
    ]


ACTIONS = pr_comment.ACTIONS_BOT


def test_comment_when_ours_is_on_a_later_page_follows_the_links_to_it(
    github_api: GitHubStub,
) -> None:
    mark = pr_comment.marker(context_for(github_api), "null")
    for i in range(230):
        github_api.add_comment(12, f"chatter {i}", "octocat")
    github_api.add_comment(12, f"{mark}\nold verdict", ACTIONS)
    for i in range(20):
        github_api.add_comment(12, f"more chatter {i}", "octocat")
    assert post(github_api, "new verdict").action == "updated"
    pages = [c.query.get("page", ["1"])[0] for c in github_api.calls if c.method == "GET"]
    assert pages == ["1", "1", "2", "3"]  # /user, then three pages of 100
    assert github_api.comments[230]["body"].endswith("new verdict")


def test_comment_when_mode_is_new_adds_one_every_run(github_api: GitHubStub) -> None:
    post(github_api, "one", mode="new")
    post(github_api, "two", mode="new")
    assert len(github_api.comments) == 2
    assert not [c for c in github_api.calls if c.method == "GET"]  # nothing to look up


def test_comment_when_matrix_entries_or_jobs_differ_keeps_one_comment_each(
    github_api: GitHubStub,
) -> None:
    for _ in range(2):
        post(github_api, "receptionist", key='{"agent": "receptionist"}')
        post(github_api, "billing", key='{"agent": "billing"}')
        post(github_api, "other job", job="nightly")
    assert sorted(c["body"].split("\n")[-1] for c in github_api.comments) == [
        "billing",
        "other job",
        "receptionist",
    ]


def test_comment_when_the_token_can_name_its_user_looks_for_that_login(
    github_api: GitHubStub,
) -> None:
    github_api.login = "cekura-bot"
    post(github_api, "one")
    post(github_api, "two")
    assert len(github_api.comments) == 1 and github_api.comments[0]["user"]["login"] == "cekura-bot"


def test_comment_when_the_token_is_read_only_fails_saying_what_to_do(
    github_api: GitHubStub,
) -> None:
    """A fork's pull request gets a read-only token: 403 on the write, explained, token unsaid."""
    github_api.read_only = True
    with pytest.raises(pr_comment.CommentFailed) as caught:
        post(github_api)
    message = str(caught.value)
    assert "HTTP 403" in message and "pull-requests: write" in message and "fork" in message
    assert github_api.token not in message and not github_api.comments


def test_comment_when_github_refuses_the_body_422_fails_with_its_words(
    github_api: GitHubStub,
) -> None:
    github_api.body_limit = 10
    with pytest.raises(pr_comment.CommentFailed, match="HTTP 422: Validation Failed"):
        post(github_api, "a body longer than ten characters")


def test_comment_when_not_a_pull_request_sends_nothing(github_api: GitHubStub) -> None:
    with pytest.raises(pr_comment.CommentFailed, match="not for a pull request"):
        post(github_api, pull_request=None, event_name="push")
    assert github_api.calls == []


def test_comment_when_github_is_unreachable_fails_cleanly(github_api: GitHubStub) -> None:
    github_api.stop()
    with pytest.raises(pr_comment.CommentFailed, match="Could not reach GitHub's API"):
        post(github_api)


def test_comment_when_on_enterprise_server_talks_to_its_api_url() -> None:
    """GITHUB_API_URL of a GitHub Enterprise Server ends in /api/v3: every call goes under it."""
    stub = GitHubStub(prefix="/api/v3").start()
    try:
        post(stub, "one")
        post(stub, "two")
        assert len(stub.comments) == 1
        assert all(c.path.startswith("/api/v3/") for c in stub.calls)
    finally:
        stub.stop()


def test_comment_when_sent_carries_the_token_only_in_its_header(github_api: GitHubStub) -> None:
    post(github_api)
    assert all(c.headers["Authorization"] == f"Bearer {github_api.token}" for c in github_api.calls)
    assert all(github_api.token not in json.dumps(c.body) for c in github_api.calls)


# --- what it says --------------------------------------------------------------------------------


def test_comment_body_when_rendered_leads_with_verdict_totals_and_failing_scenarios() -> None:
    v = judge(result(runs_for({101: "ppp", 102: "pff", 103: "fff"})), Policy(pass_threshold=90))
    body = render_comment(v, RUN_URL)
    assert body.startswith("### ❌ Cekura gate failed: 44.44% of runs passed (threshold 90%)\n")
    html = gfm.render(body)
    totals, scenarios = gfm.tables(html)
    assert totals[1][:2] == ["9", "4"]
    assert [row[1] for row in scenarios[1:]] == ["Scenario 103", "Scenario 102 (flaky)"]
    assert "1 of 3 scenarios passed every run" in body
    assert ("https://github.example/acme/agent/actions/runs/99/attempts/1", "Full job summary") in (
        gfm.links(html)
    )


def test_comment_body_when_the_result_is_huge_fits_github_limit() -> None:
    """2,000 failing scenarios with long names: under 65,536 characters, headline and link kept."""
    runs = [run(i, i, "fail", name=f"{i} " + "n" * 500) for i in range(1, 2_001)]
    body = render_comment(judge(result(runs), Policy()), RUN_URL)
    assert len(body) + 200 <= 65_536
    assert body.startswith("### ❌ Cekura gate failed") and "| 2000 | 0 | 2000 |" in body
    assert "more scenarios that did not pass: see the job summary" in body
    assert "[Full job summary](" in body


def test_comment_body_when_api_text_is_hostile_is_escaped_like_the_summary() -> None:
    text = "@octocat #12 <img src=x onerror=alert(1)> | https://x.example/a_b"
    v = judge(result([run(1, outcome="fail", name=text, error_message=text)]), Policy())
    html = gfm.render(render_comment(v, RUN_URL))
    assert gfm.later_links(html) == [] and "<img" not in html
    assert all(len(row) == 5 for row in gfm.tables(html)[1])
    assert ("https://x.example/a_b", "https://x.example/a_b") in gfm.links(html)


# --- through the gate ---------------------------------------------------------------------------


@pytest.fixture
def gate_with_comment(make_world, make_settings, make_gate, serve, clock, github_api, workspace):
    def build(**settings):
        server = serve(make_world([scenario(101), scenario(102, outcome="fail")]), clock=clock.now)
        gate, stream = make_gate(
            make_settings(
                api_url=server.url,
                scenario_ids="101,102",
                comment="update",
                github_token=github_api.token,
                **settings,
            )
        )
        gate.context = context_for(github_api)
        gate.github.mask(github_api.token)
        return gate, stream

    return build


def test_gate_when_comment_is_update_posts_the_verdict_and_sets_comment_url(
    gate_with_comment, github_api: GitHubStub, workspace: Path
) -> None:
    gate, stream = gate_with_comment()
    assert gate.run() == ExitCode.GATE_FAILED
    [comment] = github_api.comments
    assert "### ❌ Cekura gate failed: 50.00% of runs passed" in comment["body"]
    assert f"]({RUN_URL})" in comment["body"]
    outputs = read_outputs(workspace / "github_output")
    assert outputs["comment_url"] == comment["html_url"]
    log = stream.getvalue()
    assert "Pull-request comment created" in log
    assert [line for line in log.splitlines() if github_api.token in line] == [
        f"::add-mask::{github_api.token}"
    ]


def test_gate_when_the_comment_fails_keeps_the_verdict_and_warns(
    gate_with_comment, github_api: GitHubStub, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only token: a warning, no comment, the same exit code and outcome."""
    github_api.read_only = True
    gate, _ = gate_with_comment()
    assert gate.run() == ExitCode.GATE_FAILED
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith("GitHub refused to write the comment (HTTP 403")
    outputs = read_outputs(workspace / "github_output")
    assert outputs["outcome"] == "failed" and outputs["comment_url"] == ""
    assert github_api.token not in caplog.text


def test_action_when_inputs_are_refused_still_comments_and_writes_junit(
    github_api: GitHubStub, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 before anything ran: the sticky comment and the JUnit file say so, so an earlier
    verdict is not left standing and a report step has a file to read."""
    event = workspace / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    env = action_env(
        workspace,
        api_key=API_KEY,
        agent_id="abc",
        scenario_ids="101",
        comment="update",
        github_token=github_api.token,
        junit_file="reports/cekura.xml",
    )
    env.update(
        GITHUB_REPOSITORY="acme/agent",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_API_URL=github_api.url,
        GITHUB_RUN_ID="99",
    )
    assert cli.action_main(env) == 2
    [comment] = github_api.comments
    assert "### ⚠️ Cekura gate could not run" in comment["body"]
    assert "Invalid input 'agent\\_id'" in comment["body"]
    junit = (workspace / "reports" / "cekura.xml").read_text()
    assert '<testcase name="gate" classname="Cekura gate"' in junit and "<error" in junit
    outputs = read_outputs(workspace / "github_output")
    assert outputs["junit_file"] == "reports/cekura.xml" and outputs["comment_url"]
    # The token is masked before anything else is printed, and never printed again.
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == f"::add-mask::{github_api.token}"
    assert [line for line in printed if github_api.token in line] == [printed[1]]


def test_error_comment_when_the_refusal_echoes_the_key_shows_it_nowhere(
    github_api: GitHubStub, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 401 repeating the key: the comment and the JUnit file are rendered from the redacted
    message, so Markdown (`ck\\_test`) or XML escaping cannot smuggle it past the redaction."""
    event = workspace / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    with Hostile() as cekura:
        cekura.on("POST", TRIGGER_PATH, json_answer({"detail": f"Bad key <{API_KEY}>"}, status=401))
        env = action_env(
            workspace,
            api_key=API_KEY,
            agent_id="42",
            scenario_ids="101",
            api_url=cekura.url,
            comment="update",
            github_token=github_api.token,
            junit_file="junit.xml",
        )
        env.update(
            GITHUB_REPOSITORY="acme/agent",
            GITHUB_EVENT_PATH=str(event),
            GITHUB_API_URL=github_api.url,
        )
        assert cli.action_main(env, clock=FakeClock()) == 2
    capsys.readouterr()
    [comment] = github_api.comments
    junit = (workspace / "junit.xml").read_text()
    for text in (comment["body"], junit):
        assert "***" in text.replace("\\", "")
        for form in (text, text.replace("\\", ""), html.unescape(text)):
            assert API_KEY not in form


def slow_github(answer) -> tuple[Hostile, RunContext]:
    server = Hostile()
    server.on("GET", "/user", json_answer({"login": "ci-bot"}))
    server.on("GET", "/repos/acme/agent/issues/12/comments", answer)
    return server, RunContext(repository="acme/agent", pull_request=12, api_url=server.url)


def test_comment_when_github_drips_gives_up_at_the_bound_for_the_whole_comment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page dripping a byte at a time: the whole comment is bounded, not each socket read."""
    monkeypatch.setattr(pr_comment, "REQUEST_LIMIT", 0.5)
    monkeypatch.setattr(pr_comment, "TOTAL_LIMIT", 0.8)
    server, context = slow_github(drip([{"id": i} for i in range(20)], every=0.05))
    with server:
        started = time.monotonic()
        with pytest.raises(pr_comment.CommentFailed, match="no complete answer in time"):
            pr_comment.post("x", mode="update", context=context, token=SecretStr("t"), key="k")
        assert time.monotonic() - started < 2


def test_comment_when_the_job_is_cancelled_stops_at_once() -> None:
    """SIGTERM while GitHub holds the request: the comment is given up within a fraction of a
    second, so the runner's kill does not find the step still waiting on GitHub."""
    arrived = threading.Event()
    server, context = slow_github(hold(arrived))
    cancel = CancelToken()
    with server:
        threading.Thread(target=lambda: arrived.wait(5) and cancel.cancel(15), daemon=True).start()
        started = time.monotonic()
        with pytest.raises(pr_comment.CommentFailed, match="the job was cancelled"):
            pr_comment.post(
                "x", mode="update", context=context, token=SecretStr("t"), key="k", cancel=cancel
            )
        assert time.monotonic() - started < 2


def test_comment_when_the_next_page_is_on_another_host_keeps_the_token_home() -> None:
    """A `next` link to another host is not followed: the token would go with it."""
    with Hostile() as elsewhere:
        elsewhere.on("GET", "/", json_answer([]))
        link = f'<{elsewhere.url}/repos/acme/agent/issues/12/comments?page=2>; rel="next"'
        server, context = slow_github(json_answer([], headers={"Link": link}))
        with server, pytest.raises(pr_comment.CommentFailed, match="another host"):
            pr_comment.post("x", mode="update", context=context, token=SecretStr("t"), key="k")
        assert elsewhere.seen() == []
