"""The gate, top to bottom: plan (selection, calls, dry run) → trigger → wait → judge → report →
exit code.

Everything it touches is passed in (client, GitHub writer, clock), so tests drive it whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from cekura_ci import pr_comment
from cekura_ci.client import END_CALLS_TIMEOUT, CekuraClient
from cekura_ci.context import RunContext
from cekura_ci.errors import ApiError, Cancelled, CekuraCIError, ExitCode, Outcome
from cekura_ci.github import GitHub, unwritable_reason
from cekura_ci.plan import Prepared, prepare_run
from cekura_ci.settings import Settings, SettingsError, parse_github_token
from cekura_ci.text import one_line, redact, redact_data
from cekura_ci.timing import Backoff, Clock
from cekura_ci.trigger import start_run
from cekura_ci.waiter import Waiter

if TYPE_CHECKING:
    from cekura_ci.models import Result
    from cekura_ci.verdict import Policy, Verdict

# The verdict and the reports (and jinja2) are imported when needed, not before the first request.

log = logging.getLogger(__name__)

MAX_ANNOTATIONS = 10


@dataclass
class Gate:
    settings: Settings
    client: CekuraClient
    github: GitHub
    clock: Clock
    backoff: Backoff
    context: RunContext = field(default_factory=RunContext)

    def run(self) -> ExitCode:
        check_report_paths(self.settings)
        plan = prepare_run(self.settings, self.client, self.github, self.clock, self.backoff)
        if plan.stop is not None:  # a dry run, or nothing to re-run: nothing was started
            return plan.stop
        result_id, calls_placed = self.trigger(plan)
        # At once: later steps have the id even if this one dies while waiting.
        self.github.set_output("result_id", result_id)
        waiter = Waiter(
            self.client,
            self.clock,
            self.backoff,
            poll_interval=self.settings.poll_interval,
            timeout=self.settings.timeout,
            max_outage=self.settings.max_outage,
            on_progress=self.github.log,
        )
        stopped = self.wait(waiter, result_id)
        interruption = (stopped.outcome, str(stopped)) if stopped else None
        from cekura_ci.verdict import judge

        verdict = judge(
            waiter.last_result, self.policy, result_id=result_id, interruption=interruption
        )
        verdict = verdict.model_copy(update={"calls_placed": calls_placed})
        if stopped:
            verdict = verdict.model_copy(
                update={"notes": self.interruption_notes(result_id, stopped)}
            )
        else:
            verdict = self.compare(verdict, waiter.last_result)
        if self.settings.share_link and waiter.last_result is not None:
            verdict = verdict.model_copy(update={"result_url": self.share_link(result_id)})
        publish(verdict, self.settings, self.github, self.context)
        if stopped:
            return stopped.exit_code
        return ExitCode.PASSED if verdict.gate_passed else ExitCode.GATE_FAILED

    @property
    def policy(self) -> Policy:
        from cekura_ci.verdict import Policy

        return Policy(
            pass_threshold=self.settings.pass_threshold,
            scenario_pass_threshold=self.settings.scenario_pass_threshold,
            infra_failures=self.settings.infra_failures,
        )

    def trigger(self, plan: Prepared | None = None) -> tuple[int, int | None]:
        """The result to wait for, and how many calls this step placed (None: it placed none).
        Without a plan, the request is built from the settings alone."""
        plan = plan or Prepared()
        if self.settings.result_id is not None:
            self.github.log(
                f"Waiting for existing Cekura result {self.settings.result_id}; no run is started."
            )
            return self.settings.result_id, None
        self.github.log(f"Starting a Cekura run named {self.settings.name!r} …")
        try:
            started = start_run(
                self.client, self.settings, self.clock, self.backoff, body=plan.body
            )
        except Cancelled as exc:
            if exc.result_id is not None:  # cancelled just as the run started: it was found
                self.github.set_output("result_id", exc.result_id)
            raise
        self.github.log(f"Cekura result {started.id}: {len(started.runs)} runs queued.")
        return started.id, len(started.runs) or (plan.calls.total if plan.calls else None)

    def wait(self, waiter: Waiter, result_id: int) -> CekuraCIError | None:
        """Wait; a timeout, cancellation, outage or refusal is returned to be reported, not raised."""
        try:
            with self.clock.cancel.interruptible():
                waiter.wait(result_id)
        except CekuraCIError as exc:
            log.error("%s", exc)
            if exc.outcome in (Outcome.CANCELLED, Outcome.TIMEOUT):
                self.end_calls(result_id)
            return exc
        return None

    def end_calls(self, result_id: int) -> None:
        if not self.settings.end_calls_on_cancel:
            log.info(
                "Leaving the calls of result %s running (end_calls_on_cancel is false).", result_id
            )
            return
        try:
            with self.client.cancel.cleanup():  # allowed after a cancel; a further signal stops it
                self.client.end_calls(result_id, timeout=END_CALLS_TIMEOUT)
            log.info("Ended the live calls of result %s.", result_id)
        except Cancelled:
            log.warning(
                "Could not end the calls of result %s: a further signal stopped it.", result_id
            )
        except ApiError as exc:  # transient ones too: this is best effort
            log.warning("Could not end the calls of result %s: %s", result_id, exc)

    def interruption_notes(self, result_id: int, stopped: CekuraCIError) -> list[str]:
        outcome = stopped.outcome
        ended = self.settings.end_calls_on_cancel and outcome in (
            Outcome.CANCELLED,
            Outcome.TIMEOUT,
        )
        if outcome == Outcome.CANCELLED:
            first = "The job was cancelled before the result finished."
        elif outcome == Outcome.TIMEOUT:
            first = f"The result did not finish within the {self.settings.timeout:g}s timeout."
        else:
            first = f"Waiting stopped because {stopped.because}."
        after = (
            "Its live calls were asked to end."
            if ended
            else f"Its runs may still be going: find result {result_id} in Cekura, or re-run this "
            f"job with the `result_id` input set to {result_id} to wait for it without starting another run."
        )
        return [f"{first} The counts below are what was known then. {after}"]

    def compare(self, verdict: Verdict, result: Result | None) -> Verdict:
        """Against the baseline and the history (the `baseline` and `history` inputs): earlier
        results found, judged with the same policy and compared; never a failed gate for want
        of them. `gate_on` then says which rules decide."""
        if not (self.settings.baseline or self.settings.history):
            return verdict
        from cekura_ci import baseline, gating, history
        from cekura_ci.earlier import Earlier

        agent_id = self.settings.agent_id or (result.agent if result else None)
        earlier = Earlier(self.client, self.clock, self.backoff, agent_id=agent_id)
        policy, own = self.policy, verdict.result_id
        found = baseline.find(self.settings, self.context, earlier, policy=policy, exclude_id=own)
        past, history_notes = history.load(
            self.settings, self.context, earlier, verdict, policy=policy
        )
        comparison = None
        if found.baseline is not None:
            comparison = gating.compared(
                verdict,
                found.baseline,
                regression_max_p=self.settings.regression_max_p,
                as_of=dt.datetime.now(dt.timezone.utc),
                max_age_days=self.settings.baseline_max_age_days,
            )
            if comparison.stale:
                log.warning(
                    "The baseline is %s (baseline_max_age_days is %s); it was used anyway.",
                    gating.age_text(comparison.age_days),
                    self.settings.baseline_max_age_days,
                )
        verdict = gating.decide(verdict, comparison, self.settings.gate_on)
        return verdict.model_copy(
            update={"baseline_notes": found.notes, "history": past, "history_notes": history_notes}
        )

    def share_link(self, result_id: int) -> str | None:
        expire_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(
            hours=self.settings.share_link_ttl_hours
        )
        try:
            link = self.client.create_share_link(result_id, expire_at.isoformat(timespec="seconds"))
        except (ApiError, Cancelled) as exc:  # transient ones too: this is best effort
            log.warning("Could not create a share link for result %s: %s", result_id, exc)
            return None
        return link.shareable_link


def _scenario_ids(scenarios: list) -> str:
    return json.dumps(list(dict.fromkeys(s.scenario_id for s in scenarios)))


REPORT_FILES = ("summary_file", "junit_file", "report_file")


def check_report_paths(settings: Settings) -> None:
    """Refuse report paths that cannot be written before anything is sent (and paid for)."""
    problems = [
        (name, f"cannot write {path!r}: {why}")
        for name in REPORT_FILES
        if (path := getattr(settings, name)) and (why := unwritable_reason(path))
    ]
    if problems:
        raise SettingsError(problems)


def write_report(github: GitHub, name: str, path: str, render: Callable[[], str]) -> str:
    """Write one report file; if that fails after all, warn and go on: the verdict stands."""
    if not path:
        return ""
    try:
        return github.write_file(path, render(), redact_text=name == "summary_file")
    except Exception as exc:  # a report is never worth a changed verdict, even on a bug of ours
        log.warning("Could not write %s %r (%s); the verdict stands.", name, path, exc)
        return ""


def redacted(verdict: Verdict, secrets: list[str]) -> Verdict:
    """The verdict with any secret the API echoed removed from its texts, before any rendering
    escapes them (`ck\\_live` in Markdown would slip past a redaction of the rendered text)."""
    dumped = verdict.model_dump_json()
    if not any(secret in dumped for secret in secrets):  # a key has no character JSON escapes
        return verdict
    return type(verdict).model_validate(redact_data(json.loads(dumped), secrets))


def publish(
    verdict: Verdict, settings: Settings, github: GitHub, context: RunContext | None = None
) -> None:
    """Summary, files, outputs, annotations, the comment and log lines: every report comes from
    the verdict."""
    from cekura_ci.report.json_report import render_json
    from cekura_ci.report.junit import render_junit
    from cekura_ci.report.markdown import render_comment, render_console, render_summary

    context = context or RunContext()
    verdict = redacted(verdict, github.masked)
    summary = render_summary(verdict)
    github.append_summary(summary)
    outputs: dict[str, object] = {
        "summary_file": write_report(
            github, "summary_file", settings.summary_file, lambda: summary
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
        "comment_url": comment(
            render_comment(verdict, context.run_url),
            mode=settings.comment,
            token=settings.github_token,
            key=settings.comment_key,
            github=github,
            context=context,
        ),
    }
    for name, value in outputs.items():
        github.set_output(name, value)
    if verdict.outcome in (
        Outcome.PASSED,
        Outcome.FAILED,
    ):  # an interrupted result judges no scenario
        annotate(verdict, github)
    log_runs(verdict, github)
    for line in render_console(verdict).splitlines():
        github.log(line)
    if outputs["summary_file"]:
        github.log(f"Summary written to {outputs['summary_file']}")


def comment(
    body: str,
    *,
    mode: str,
    token: SecretStr | None,
    key: str,
    github: GitHub,
    context: RunContext,
) -> str:
    """Post or update the pull-request comment when asked; its URL, or "" (with a warning for
    anything that went wrong: the verdict stands either way)."""
    if mode == "off":
        return ""
    try:
        posted = pr_comment.post(
            redact(body, github.masked), mode=mode, context=context, token=token, key=key
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
) -> dict[str, str]:
    """When the gate stopped without a verdict, the JUnit file and the comment still say so, if
    the inputs that ask for them can be read. Best effort; returns the outputs it produced."""
    from cekura_ci.report.junit import render_error_junit
    from cekura_ci.report.markdown import render_error_comment

    produced: dict[str, str] = {}
    junit_file = (raw.get("junit_file") or "").strip()
    if junit_file:
        try:
            produced["junit_file"] = github.write_file(
                junit_file,
                render_error_junit(
                    message, outcome=outcome.value, hint=hint, file=context.workflow_file
                ),
            )
        except (OSError, ValueError) as err:
            log.warning("Could not write %s: %s", junit_file, err)
    mode = (raw.get("comment") or "off").strip()
    try:
        token = parse_github_token(raw.get("github_token") or "")
    except ValueError:
        return produced  # already reported as an invalid input
    if mode in ("update", "new"):
        body = render_error_comment(message, hint=hint, run_url=context.run_url)
        key = " ".join((raw.get("comment_key") or "").split())
        url = comment(body, mode=mode, token=token, key=key, github=github, context=context)
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
    with (
        github.group(f"Cekura result {verdict.result_id}: {verdict.total_runs} runs"),
        github.commands_stopped(),
    ):
        for scenario in verdict.scenarios:
            for run in scenario.runs:
                mark = {
                    "passed": "PASS",
                    "agent_failure": "FAIL",
                    "infra_failure": "INFRA",
                    "unfinished": "WAIT",
                }[run.kind]
                github.log(
                    f"  {mark:<5} run {run.run_id} · {one_line(scenario.label, 100)} #{run.repetition} · "
                    f"{run.status}" + ("" if run.passed else f" · {one_line(run.reason, 200)}")
                )
