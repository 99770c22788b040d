"""The gate, top to bottom: trigger → wait → judge → report → exit code.

Everything it touches is passed in (client, GitHub writer, clock), so tests drive it whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from cekura_ci.client import END_CALLS_TIMEOUT, CekuraClient
from cekura_ci.errors import ApiError, Cancelled, CekuraCIError, ExitCode, Outcome
from cekura_ci.github import GitHub
from cekura_ci.report.json_report import render_json
from cekura_ci.report.junit import render_junit
from cekura_ci.report.markdown import render_console, render_summary
from cekura_ci.settings import Settings
from cekura_ci.text import one_line
from cekura_ci.timing import Backoff, Clock
from cekura_ci.trigger import start_run
from cekura_ci.verdict import Policy, Verdict, judge
from cekura_ci.waiter import Waiter

log = logging.getLogger(__name__)

MAX_ANNOTATIONS = 10


@dataclass
class Gate:
    settings: Settings
    client: CekuraClient
    github: GitHub
    clock: Clock
    backoff: Backoff

    def run(self) -> ExitCode:
        result_id = self.trigger()
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
        verdict = judge(
            waiter.last_result, self.policy, result_id=result_id, interruption=interruption
        )
        if stopped:
            verdict = verdict.model_copy(
                update={"notes": self.interruption_notes(result_id, stopped)}
            )
        if self.settings.share_link and waiter.last_result is not None:
            verdict = verdict.model_copy(update={"result_url": self.share_link(result_id)})
        publish(verdict, self.settings, self.github)
        if stopped:
            return stopped.exit_code
        return ExitCode.PASSED if verdict.gate_passed else ExitCode.GATE_FAILED

    @property
    def policy(self) -> Policy:
        return Policy(
            pass_threshold=self.settings.pass_threshold,
            scenario_pass_threshold=self.settings.scenario_pass_threshold,
            infra_failures=self.settings.infra_failures,
        )

    def trigger(self) -> int:
        if self.settings.result_id is not None:
            self.github.log(
                f"Waiting for existing Cekura result {self.settings.result_id}; no run is started."
            )
            return self.settings.result_id
        self.github.log(f"Starting a Cekura run named {self.settings.name!r} …")
        try:
            started = start_run(self.client, self.settings, self.clock, self.backoff)
        except Cancelled as exc:
            if exc.result_id is not None:  # cancelled just as the run started: it was found
                self.github.set_output("result_id", exc.result_id)
            raise
        self.github.log(f"Cekura result {started.id}: {len(started.runs)} runs queued.")
        return started.id

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


def publish(verdict: Verdict, settings: Settings, github: GitHub) -> None:
    """Summary, files, outputs, annotations and log lines: every report comes from the verdict."""
    summary = render_summary(verdict)
    github.append_summary(summary)
    outputs: dict[str, object] = {
        "summary_file": github.write_file(settings.summary_file, summary),
        "junit_file": github.write_file(settings.junit_file, render_junit(verdict))
        if settings.junit_file
        else "",
        "report_file": github.write_file(settings.report_file, render_json(verdict))
        if settings.report_file
        else "",
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
        "result_url": verdict.result_url or "",
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
    github.log(f"Summary written to {outputs['summary_file']}")


def annotate(verdict: Verdict, github: GitHub) -> None:
    for level, scenarios, word in (
        ("error", verdict.failed_scenarios, "failed"),
        ("warning", verdict.flaky_scenarios, "flaky"),
    ):
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
                mark = {"passed": "PASS", "agent_failure": "FAIL", "infra_failure": "INFRA"}[
                    run.kind
                ]
                github.log(
                    f"  {mark:<5} run {run.run_id} · {one_line(scenario.label, 100)} #{run.repetition} · "
                    f"{run.status}" + ("" if run.passed else f" · {one_line(run.reason, 200)}")
                )
