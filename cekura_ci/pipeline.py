"""The gate, top to bottom: plan (selection, calls, dry run) → trigger → wait → judge (with the
baseline comparison) → report → exit code.

Everything it touches is passed in (client, GitHub writer, clock), so tests drive it whole. The
report stage is cekura_ci/publish.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cekura_ci.client import END_CALLS_TIMEOUT, CekuraClient
from cekura_ci.context import RunContext
from cekura_ci.errors import ApiError, Cancelled, CekuraCIError, ExitCode, Outcome
from cekura_ci.github import GitHub
from cekura_ci.publish import best_effort, check_report_paths, publish
from cekura_ci.settings import Settings
from cekura_ci.timing import Backoff, Clock
from cekura_ci.trigger import start_run
from cekura_ci.waiter import Waiter

if TYPE_CHECKING:
    from cekura_ci.models import Result
    from cekura_ci.plan import Prepared
    from cekura_ci.verdict import Policy, Verdict

# The verdict and the reports (and jinja2) are imported when needed, not before the first request.

log = logging.getLogger(__name__)

CANCELLED_COMPARING = (
    "The job was cancelled while the finished result was being compared with its baseline and "
    "history, or linked: the comparison is left out, and a cancelled gate does not pass."
)
#: What a share link must look like to be used: https, then only characters a URL needs (no
#: space, quote, `$`, backtick, parenthesis or brace that a shell would read), bounded.
#: An https address of characters that mean nothing to a shell (`result_url` may be interpolated
#: into a later step's script): no `;`, `&`, `$`, quotes, brackets or spaces.
SHARE_LINK = re.compile(r"https://[A-Za-z0-9._~:/?#@=%-]{1,2040}")


@dataclass
class Gate:
    settings: Settings
    client: CekuraClient
    github: GitHub
    clock: Clock
    backoff: Backoff
    context: RunContext = field(default_factory=RunContext)

    def run(self) -> ExitCode:
        check_report_paths(self.settings, self.github)
        plan = None
        if self.settings.result_id is None:  # waiting for an existing result: nothing to choose
            from cekura_ci.plan import prepare_run

            plan = prepare_run(self.settings, self.client, self.github, self.clock, self.backoff)
            if plan.stop is not None:  # a dry run, or nothing to re-run: nothing was started
                return plan.stop
        result_id, calls_placed = self.trigger(plan)
        # At once: later steps have the id even if this one dies while waiting.
        self.github.set_output("result_id", result_id)
        result, stopped = self.wait(result_id)
        verdict, stopped = self.judge(result, result_id, stopped, calls_placed)
        code = exit_code(verdict, stopped)  # decided before any report: none can change it
        best_effort(
            "the reports",
            lambda: publish(verdict, self.settings, self.github, self.context, self.clock.cancel),
            None,
        )
        if self.clock.cancel.cancelled and not isinstance(stopped, Cancelled):
            # The runner's signal came after the verdict, while it was reported: the reports say
            # what was known, and the step exits as cancelled, as it does at every other moment.
            log.warning("The job was cancelled while the reports were written.")
            return Cancelled(self.clock.cancel.signal_number or signal.SIGINT).exit_code
        return code

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
        if self.settings.result_id is not None:
            self.github.log(
                f"Waiting for existing Cekura result {self.settings.result_id}; no run is started."
            )
            return self.settings.result_id, None
        self.github.log(f"Starting a Cekura run named {self.settings.name!r} …")
        try:
            started = start_run(
                self.client,
                self.settings,
                self.clock,
                self.backoff,
                body=plan.body if plan else None,
            )
        except Cancelled as exc:
            if exc.result_id is not None:  # cancelled just as the run started: it was found
                self.github.set_output("result_id", exc.result_id)
            raise
        self.github.log(f"Cekura result {started.id}: {len(started.runs)} runs queued.")
        planned = plan.calls.total if plan and plan.calls else None
        return started.id, len(started.runs) or planned

    def wait(self, result_id: int) -> tuple[Result | None, CekuraCIError | None]:
        """The last result seen, and why waiting stopped early if it did: a timeout, cancellation,
        outage or refusal is returned to be reported, not raised."""
        waiter = Waiter(
            self.client,
            self.clock,
            self.backoff,
            poll_interval=self.settings.poll_interval,
            timeout=self.settings.timeout,
            max_outage=self.settings.max_outage,
            on_progress=self.github.log,
        )
        try:
            with self.clock.cancel.interruptible():
                waiter.wait(result_id)
        except CekuraCIError as exc:
            log.error("%s", exc)
            if exc.outcome in (Outcome.CANCELLED, Outcome.TIMEOUT):
                self.end_calls(result_id)
            last = waiter.last_result
            if waiter.last_is_row and exc.outcome != Outcome.CANCELLED:
                last = self.detail_once(result_id) or last
            return last, exc
        return waiter.last_result, None

    def detail_once(self, result_id: int) -> Result | None:
        """The full result, for a report of why runs failed: the list's row that stood in for it
        while waiting has statuses only. Best effort, one request (not on a cancel, which must
        end within seconds)."""
        try:
            with self.clock.cancel.interruptible():
                return self.client.get_result(result_id)
        except CekuraCIError as exc:
            log.warning(
                "Could not read result %s whole (%s); reporting its statuses.", result_id, exc
            )
            return None

    def judge(
        self,
        result: Result | None,
        result_id: int,
        stopped: CekuraCIError | None,
        calls_placed: int | None,
    ) -> tuple[Verdict, CekuraCIError | None]:
        """The verdict on what was seen; a result that was judged is also compared with its
        baseline and history, and an interrupted one says what happened instead. Returns why the
        gate stopped early, if it did (a cancel may also come while comparing)."""
        from cekura_ci.verdict import judge

        interruption = (stopped.outcome, str(stopped)) if stopped else None
        verdict = judge(result, self.policy, result_id=result_id, interruption=interruption)
        verdict = verdict.model_copy(update={"calls_placed": calls_placed})
        if stopped:
            notes = self.interruption_notes(result_id, stopped)
            verdict = verdict.model_copy(update={"notes": notes})
        else:
            try:
                verdict = self.compare(verdict, result)
                if self.settings.share_link and result is not None:
                    verdict = verdict.model_copy(update={"result_url": self.share_link(result_id)})
            except Cancelled as exc:
                stopped = exc
                verdict = judge(
                    result, self.policy, result_id=result_id, interruption=(exc.outcome, str(exc))
                ).model_copy(update={"calls_placed": calls_placed, "notes": [CANCELLED_COMPARING]})
        return verdict, stopped

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
        except ApiError as exc:  # transient ones too: this is best effort; a cancel is not
            log.warning("Could not create a share link for result %s: %s", result_id, exc)
            return None
        url = link.shareable_link.strip()
        # It becomes the result_url output, which later steps may interpolate: an https address
        # on one line, or nothing.
        if not SHARE_LINK.fullmatch(url):
            log.warning(
                "Cekura's share link for result %s is not an https address; it was not used.",
                result_id,
            )
            return None
        return url


def exit_code(verdict: Verdict, stopped: CekuraCIError | None) -> ExitCode:
    """What the step exits with: why it stopped early if it did, else the gate's verdict."""
    if stopped:
        return stopped.exit_code
    return ExitCode.PASSED if verdict.gate_passed else ExitCode.GATE_FAILED
