"""Exit codes, outcomes and the one exception hierarchy of cekura-ci."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What the process tells the workflow; failure is told apart from breakage."""

    #: The gate passed: the agent met every threshold.
    PASSED = 0
    #: The gate failed: the agent regressed.
    GATE_FAILED = 1
    #: The request was wrong: bad input, a rejected key, a 4xx that retrying cannot fix.
    USAGE_ERROR = 2
    #: Infrastructure: Cekura unreachable, gave up waiting, or timed out.
    INFRASTRUCTURE = 3
    #: Cancelled by SIGINT (the runner's first cancellation signal).
    INTERRUPTED = 130
    #: Cancelled by SIGTERM (the runner's second cancellation signal).
    TERMINATED = 143


class Outcome(str, enum.Enum):
    """The `outcome` output: the exit code in a word."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class CekuraCIError(Exception):
    """Base of every error cekura-ci raises on purpose; its message is safe to print."""

    exit_code = ExitCode.INFRASTRUCTURE
    outcome = Outcome.ERROR
    #: What to do next, shown under the message in the job summary.
    hint: str | None = None


class ApiError(CekuraCIError):
    """Cekura answered in a way we cannot use."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RequestRejected(ApiError):
    """Cekura refused the request (a 4xx that retrying cannot fix); fix the inputs."""

    exit_code = ExitCode.USAGE_ERROR
    hint = (
        "Cekura refused the request as sent, so running it again will not help: check that "
        "agent_id and scenario_ids exist and belong to the project of the API key."
    )


class AuthenticationFailed(RequestRejected):
    """Cekura refused the API key (401/403)."""

    hint = (
        "A key was sent and Cekura did not accept it: check that the secret passed as api_key "
        "holds a current key (not revoked or rotated) of the Cekura project that owns the agent."
    )


class ResultNotFound(RequestRejected):
    """Cekura has no result with that id (404)."""

    hint = "Check result_id: it must be a result of the project that the API key belongs to."


class TransientApiError(ApiError):
    """A failure that may pass: a dropped connection, a timeout, 408, 429, 5xx, a garbled body."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        reached_server: bool = True,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        #: False only when the request provably never reached Cekura (refused connection),
        #: or Cekura said to retry before doing anything (429).
        self.reached_server = reached_server


class GaveUp(CekuraCIError):
    """Cekura stayed unreachable for longer than the outage budget."""

    hint = (
        "Cekura's API or the network to it failed for longer than max_outage allows. Check api_url, "
        "then re-run the job; if a result was started, set result_id to wait for it instead of "
        "starting another run."
    )


class AmbiguousTrigger(CekuraCIError):
    """The run request may or may not have been accepted, and we could not tell which."""

    def __init__(self, name: str, cause: str) -> None:
        super().__init__(
            f"The run request failed ambiguously ({cause}) and Cekura's results list could not "
            f"confirm whether the run was created. Look for a result named {name!r} in Cekura "
            "before re-running, or pass its id as the result_id input to wait for it."
        )
        self.result_name = name


class WaitTimedOut(CekuraCIError):
    """The result did not reach a terminal status within the timeout."""

    outcome = Outcome.TIMEOUT
    hint = (
        "If the runs legitimately take longer, raise timeout (and the job's timeout-minutes), or "
        "run fewer calls at once with frequency or concurrency_limit."
    )


class Cancelled(CekuraCIError):
    """The job was cancelled by a signal."""

    outcome = Outcome.CANCELLED

    def __init__(self, signal_number: int) -> None:
        name = {2: "SIGINT", 15: "SIGTERM"}.get(signal_number, f"signal {signal_number}")
        super().__init__(f"The job was cancelled ({name}).")
        self.exit_code = ExitCode.INTERRUPTED if signal_number == 2 else ExitCode.TERMINATED
