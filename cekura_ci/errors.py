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
    #: The kind of failure in words, to finish "Waiting stopped because …".
    because = "of an unexpected error"


class ApiError(CekuraCIError):
    """A request to Cekura's API failed, or its answer cannot be used."""

    because = "a request to Cekura's API failed"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RequestRejected(ApiError):
    """Cekura refused the request (a 4xx that retrying cannot fix); fix the inputs."""

    exit_code = ExitCode.USAGE_ERROR
    because = "Cekura refused a request for the result"
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

    because = "Cekura's API failed"

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


class BadAnswer(ApiError):
    """Cekura answered, but not with something we may use: another result, a body past the size
    limit, a status HTTP does not define. Not retried: asking again gets the same answer."""

    because = "Cekura's answer could not be used"
    hint = (
        "Cekura's answer was not used, so nothing was judged from it. Check that api_url points "
        "at Cekura's API and not at a proxy or portal that answers in its place, then re-run the "
        "job; if it persists, report it to Cekura with the request shown above."
    )


class RequestNotSent(ApiError):
    """The request could not be built (an unusable URL, a body that is not valid JSON): nothing left
    this machine, and sending it again would fail the same way."""

    exit_code = ExitCode.USAGE_ERROR
    because = "a request could not be sent as built"
    hint = "Nothing was sent to Cekura. Fix what the message names and run the job again."

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        if fix:
            self.hint = f"Nothing was sent to Cekura. {fix}"


class TlsVerificationFailed(ApiError):
    """The server's TLS certificate failed verification: the request never left this machine."""

    because = "the TLS certificate of api_url could not be verified"
    hint = (
        "Nothing was sent to Cekura. Check that api_url names Cekura's API. Behind a proxy that "
        "inspects TLS, point the REQUESTS_CA_BUNDLE environment variable at its CA certificate "
        "bundle; never turn verification off, since the API key travels with every request."
    )


class GaveUp(CekuraCIError):
    """Cekura stayed unreachable for longer than the outage budget."""

    because = "Cekura's API kept failing"

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
    because = "the timeout was reached"
    hint = (
        "If the runs legitimately take longer, raise timeout (and the job's timeout-minutes), or "
        "run fewer calls at once with frequency or concurrency_limit."
    )


class Cancelled(CekuraCIError):
    """The job was cancelled by a signal."""

    outcome = Outcome.CANCELLED
    because = "the job was cancelled"

    def __init__(
        self, signal_number: int, detail: str = "", *, reached_server: bool = False
    ) -> None:
        name = {2: "SIGINT", 15: "SIGTERM"}.get(signal_number, f"signal {signal_number}")
        super().__init__(f"The job was cancelled ({name}).{' ' + detail if detail else ''}")
        self.signal_number = signal_number
        self.exit_code = ExitCode.INTERRUPTED if signal_number == 2 else ExitCode.TERMINATED
        #: True when a request was in flight: it may have reached Cekura and been acted on.
        self.reached_server = reached_server
        #: The result a cancelled trigger turned out to have started, when it was found.
        self.result_id: int | None = None
