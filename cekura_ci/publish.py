"""The report stage: every report comes from the one verdict and goes where people look (job
summary, report files, outputs, annotations, the log, the pull-request comment). Writing is best
effort: a report that cannot be written is a warning, never a changed verdict.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from pydantic import SecretStr

from cekura_ci import pr_comment
from cekura_ci.context import RunContext
from cekura_ci.errors import Outcome
from cekura_ci.github import GitHub, unwritable_reason
from cekura_ci.settings import Settings, SettingsError, parse_github_token
from cekura_ci.text import one_line, redact, redact_data
from cekura_ci.timing import CancelToken

if TYPE_CHECKING:
    from cekura_ci.verdict import Verdict

# The reports (and jinja2) are imported when needed, not before the first request.

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ANNOTATIONS = 10


def _scenario_ids(scenarios: list) -> str:
    return json.dumps(list(dict.fromkeys(s.scenario_id for s in scenarios)))


REPORT_FILES = ("summary_file", "junit_file", "report_file")


def check_report_paths(settings: Settings, github: GitHub) -> None:
    """Refuse report paths that cannot be written, or that would overwrite each other or a file
    the runner reads, before anything is sent (and paid for)."""
    problems = [
        (name, f"cannot write {path!r}: {why}")
        for name in REPORT_FILES
        if (path := getattr(settings, name)) and (why := unwritable_reason(path))
    ]
    taken: dict[str, str] = {}
    for runner_file in (github.summary_path, github.output_path):
        if runner_file:
            taken[os.path.realpath(runner_file)] = "a file the runner reads"
    for name in REPORT_FILES:
        path = getattr(settings, name)
        if not path:
            continue
        real = os.path.realpath(path)
        if real in taken:
            problems.append((name, f"cannot write {path!r}: it is also {taken[real]}"))
        taken.setdefault(real, name)
    if problems:
        raise SettingsError(problems)


def write_report(github: GitHub, name: str, path: str, render: Callable[[], str]) -> str:
    """Write one report file; if that fails after all, warn and go on: the verdict stands."""
    if not path:
        return ""
    return best_effort(
        f"{name} {path!r}",
        lambda: github.write_file(path, render(), redact_text=name == "summary_file"),
        "",
    )


def redacted(verdict: Verdict, secrets: list[str]) -> Verdict:
    """The verdict with any secret the API echoed removed from its texts, before any rendering
    escapes them (`ck\\_live` in Markdown would slip past a redaction of the rendered text)."""
    dumped = verdict.model_dump_json()
    if not any(secret in dumped for secret in secrets):  # a key has no character JSON escapes
        return verdict
    return type(verdict).model_validate(redact_data(json.loads(dumped), secrets))


def best_effort(what: str, step: Callable[[], T], default: T) -> T:
    """One report step; if it fails, even on a bug of ours, a warning: the verdict stands."""
    try:
        return step()
    except Exception as exc:
        log.warning(
            "Could not write %s (%s: %s); the verdict stands.", what, type(exc).__name__, exc
        )
        return default


def publish(
    verdict: Verdict,
    settings: Settings,
    github: GitHub,
    context: RunContext | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Outputs, summary, files, the comment, annotations and log lines: every report comes from
    the verdict, and each is written on its own, so one that fails leaves the others."""
    from cekura_ci.report.json_report import render_json
    from cekura_ci.report.junit import render_junit
    from cekura_ci.report.markdown import render_comment, render_console, render_summary

    context = context or RunContext()
    verdict = best_effort("the redacted verdict", lambda: redacted(verdict, github.masked), verdict)
    for name, value in verdict_outputs(verdict).items():  # first: they need no rendering
        github.set_output(name, value)
    summary = best_effort("the job summary", lambda: render_summary(verdict), "")
    if summary:
        github.append_summary(summary)
    files = {
        "summary_file": write_report(
            github,
            "summary_file",
            settings.summary_file,
            lambda: summary or render_summary(verdict),
        ),
        "junit_file": write_report(
            github,
            "junit_file",
            settings.junit_file,
            lambda: render_junit(verdict, file=context.workflow_file),
        ),
        "report_file": write_report(
            github, "report_file", settings.report_file, lambda: render_json(verdict)
        ),
    }
    for name, value in files.items():
        github.set_output(name, value)
    if settings.comment != "off":
        body = best_effort(
            "the pull-request comment", lambda: render_comment(verdict, context.run_url), ""
        )
        url = (
            comment(
                body,
                mode=settings.comment,
                token=settings.github_token,
                key=settings.comment_key,
                github=github,
                context=context,
                cancel=cancel,
            )
            if body
            else ""
        )
        github.set_output("comment_url", url)
    else:
        github.set_output("comment_url", "")
    if verdict.outcome in (Outcome.PASSED, Outcome.FAILED):  # an interrupted result judges none
        best_effort("the annotations", lambda: annotate(verdict, github), None)
    best_effort("the run log", lambda: log_runs(verdict, github), None)
    console = best_effort("the console verdict", lambda: render_console(verdict), "")
    for line in console.splitlines():
        github.log(line)
    if files["summary_file"]:
        github.log(f"Summary written to {files['summary_file']}")


def verdict_outputs(verdict: Verdict) -> dict[str, object]:
    """The step outputs that state the verdict itself."""
    return {
        "result_id": "" if verdict.result_id is None else verdict.result_id,
        "status": verdict.status,
        "outcome": verdict.outcome.value,
        "passed": str(verdict.gate_passed).lower(),
        "pass_rate": f"{verdict.pass_rate:.2f}",
        "total_runs": verdict.total_runs,
        "passed_runs": verdict.passed_runs,
        "failed_runs": verdict.failed_runs,
        "infra_failed_runs": verdict.infra_failures,
        "failed_scenarios": _scenario_ids(verdict.failed_scenarios),
        "flaky_scenarios": _scenario_ids(verdict.flaky_scenarios),
        **comparison_outputs(verdict),
        "result_url": verdict.result_url or "",
    }


def comment(
    body: str,
    *,
    mode: str,
    token: SecretStr | None,
    key: str,
    github: GitHub,
    context: RunContext,
    cancel: CancelToken | None = None,
) -> str:
    """Post or update the pull-request comment when asked; its URL, or "" (with a warning for
    anything that went wrong: the verdict stands either way)."""
    if mode == "off":
        return ""
    try:
        posted = pr_comment.post(
            redact(body, github.masked),
            mode=mode,
            context=context,
            token=token,
            key=key,
            cancel=cancel,
        )
    except pr_comment.CommentFailed as exc:
        log.warning("%s", exc)
        return ""
    github.log(f"Pull-request comment {posted.action}: {posted.url}")
    return posted.url


def publish_error(
    message: str,
    *,
    outcome: Outcome,
    hint: str | None,
    raw: Mapping[str, str | None],
    github: GitHub,
    context: RunContext,
    cancel: CancelToken | None = None,
) -> dict[str, str]:
    """When the gate stopped without a verdict, the JUnit file and the comment still say so, if
    the inputs that ask for them can be read. `message` is already redacted. Best effort;
    returns the outputs it produced."""
    from cekura_ci.report.junit import render_error_junit
    from cekura_ci.report.markdown import render_error_comment

    produced: dict[str, str] = {}
    junit_file = (raw.get("junit_file") or "").strip()
    written = write_report(
        github,
        "junit_file",
        junit_file,
        lambda: render_error_junit(
            message, outcome=outcome.value, hint=hint, file=context.workflow_file
        ),
    )
    if written:
        produced["junit_file"] = written
    mode = (raw.get("comment") or "off").strip()
    try:
        token = parse_github_token(raw.get("github_token") or "")
    except ValueError:
        return produced  # already reported as an invalid input
    if mode in ("update", "new"):
        body = render_error_comment(message, hint=hint, run_url=context.run_url)
        key = " ".join((raw.get("comment_key") or "").split())
        url = comment(
            body, mode=mode, token=token, key=key, github=github, context=context, cancel=cancel
        )
        if url:
            produced["comment_url"] = url
    return produced


def comparison_outputs(verdict: Verdict) -> dict[str, object]:
    comparison = verdict.comparison
    base = comparison.baseline.result_id if comparison else None
    return {
        "baseline_result_id": "" if base is None else base,
        "regressed_scenarios": _scenario_ids(comparison.regressed if comparison else []),
        "fixed_scenarios": _scenario_ids(comparison.fixed if comparison else []),
    }


def annotate_regressions(verdict: Verdict, github: GitHub) -> set[object]:
    """Regressions first, as errors; returns the scenarios they named."""
    from cekura_ci import gating

    comparison = verdict.comparison
    regressed = comparison.regressed if comparison else []
    against = one_line((comparison.baseline.branch if comparison else None) or "the baseline", 60)
    scenarios = {gating.key_of(s): s for s in verdict.scenarios}
    for row in regressed[:MAX_ANNOTATIONS]:
        reason = getattr(scenarios.get(gating.key_of(row)), "main_reason", None)
        github.annotate(
            "error",
            row.evidence + (f" — {one_line(reason, 300)}" if reason else ""),
            title=f"Scenario regressed against {against}: {one_line(row.label, 150)} "
            f"[{row.scenario_id}]",
        )
    if len(regressed) > MAX_ANNOTATIONS:
        github.annotate(
            "error",
            f"{len(regressed) - MAX_ANNOTATIONS} more scenarios regressed; see the job summary.",
            title="More scenarios regressed",
        )
    return {gating.key_of(row) for row in regressed}


def annotate(verdict: Verdict, github: GitHub) -> None:
    from cekura_ci import gating

    named = annotate_regressions(verdict, github)
    # When only regressions decide, a failure that is no regression does not block: a warning.
    failed = ("error", "failed") if gating.thresholds_decide(verdict) else ("warning", "failing")
    for level, word, scenarios in (
        (*failed, verdict.failed_scenarios),
        ("warning", "flaky", verdict.flaky_scenarios),
    ):
        scenarios = [s for s in scenarios if gating.key_of(s) not in named]
        for scenario in scenarios[:MAX_ANNOTATIONS]:
            github.annotate(
                level,
                f"{scenario.passed}/{scenario.total} runs passed"
                + (f" — {one_line(scenario.main_reason, 300)}" if scenario.main_reason else ""),
                title=f"Scenario {word}: {one_line(scenario.label, 150)} [{scenario.scenario_id}]",
            )
        if len(scenarios) > MAX_ANNOTATIONS:
            github.annotate(
                level,
                f"{len(scenarios) - MAX_ANNOTATIONS} more scenarios {word}; see the job summary.",
                title=f"More scenarios {word}",
            )


def log_runs(verdict: Verdict, github: GitHub) -> None:
    marks = {
        "passed": "PASS",
        "agent_failure": "FAIL",
        "infra_failure": "INFRA",
        "unfinished": "WAIT",
    }
    with (
        github.group(f"Cekura result {verdict.result_id}: {verdict.total_runs} runs"),
        github.commands_stopped(),
    ):
        github.log_lines(
            f"  {marks[run.kind]:<5} run {run.run_id} · {label} #{run.repetition} · {run.status}"
            + ("" if run.passed else f" · {one_line(run.reason, 200)}")
            for scenario in verdict.scenarios
            for label in (one_line(scenario.label, 100),)
            for run in scenario.runs
        )
