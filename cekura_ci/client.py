"""The Cekura HTTP API: one session, the auth header, HTTP failures → typed errors, answers → models.

Every request goes through `transport.send`: bounded as a whole in time and in decoded size, and
stopped within a fraction of a second when the job is cancelled.
"""

from __future__ import annotations

import email.utils
import logging
import re
import signal
import ssl
import time
import zlib
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from pydantic import BaseModel, SecretStr, ValidationError
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util.retry import Retry
from urllib3.util.ssl_match_hostname import CertificateError

from cekura_ci import __version__
from cekura_ci.collector import paused
from cekura_ci.errors import (
    AuthenticationFailed,
    BadAnswer,
    Cancelled,
    RequestNotSent,
    RequestRejected,
    ResultNotFound,
    TlsVerificationFailed,
    TransientApiError,
)
from cekura_ci.jsonstream import loads_object
from cekura_ci.models import Result, ResultPage, ShareLink, run_from_api
from cekura_ci.settings import DEFAULT_REQUEST_TIMEOUT
from cekura_ci.text import clip
from cekura_ci.timing import CancelToken
from cekura_ci.transport import NotAsked, Stopped, TooLarge, WatchedAdapter, send

if TYPE_CHECKING:  # the catalogue is read only to choose or price a run: imported then
    from cekura_ci.catalog import Agent, BillingInfo, Estimate, Scenario

log = logging.getLogger(__name__)

TRIGGER_PATH = "/test_framework/v1/scenarios/run_scenarios_livekit_v2/"
RESULTS_PATH = "/test_framework/v1/results/"
MAX_SEARCH_PAGES = 5
#: Ending a result's calls is cleanup after a cancel or a timeout: it must finish well inside the
#: 7.5 s between the runner's SIGINT and its SIGTERM.
END_CALLS_TIMEOUT = 5.0
#: The largest decoded body we read. The largest real result measured (10,000 runs, 100 scenarios
#: × 100, ordinary transcripts) is 24.7 MiB of JSON; this allows ten times that, or results with
#: far longer calls, while a compressed "bomb" (300 KB of gzip that inflates to 314 MB) stops here
#: instead of taking the runner's memory. Holding and parsing 256 MiB still fits a hosted runner.
MAX_BODY_BYTES = 256 * 1024 * 1024
#: How often the caller looks at the clock and the cancel token while a request is in flight.

ModelT = TypeVar("ModelT", bound=BaseModel)


def is_transient_status(status: int) -> bool:
    """Worth asking again: every 5xx (the server's side, including 501 and the CDN's 520–526),
    408 Request Timeout and 429 Too Many Requests."""
    return 500 <= status <= 599 or status in (408, 429)


def make_session(api_key: SecretStr) -> requests.Session:
    """The one place a session is built: auth header, User-Agent, and retries that are always safe.

    urllib3 retries only connection attempts that failed before a byte was sent (refused, connect
    timeout), which is safe even for the non-idempotent trigger POST. Everything that may have
    reached Cekura is left to the caller, who knows whether repeating it is safe.
    """
    session = requests.Session()
    session.headers["X-CEKURA-API-KEY"] = api_key.get_secret_value()
    session.headers["User-Agent"] = f"cekura-ci/{__version__} {requests.utils.default_user_agent()}"
    session.headers["Accept"] = "application/json"
    session.headers["Accept-Encoding"] = "gzip, deflate"  # what _Inflater decodes within bounds
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        redirect=0,
        # A refused connection is retried at once, then after 0.2 s: only a blip is absorbed here.
        # Longer outages are ridden out by `ride_out`, which logs each retry and can be cancelled.
        backoff_factor=0.1,
        respect_retry_after_header=False,  # 429 and its Retry-After are handled, and logged, by ride_out
    )
    adapter = WatchedAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class CekuraClient:
    """Speaks the part of Cekura's API that cekura-ci uses; returns models, raises ApiError.

    `timeout` bounds each request as a whole; `cancel` stops any request in flight (and refuses to
    start one) once the job is cancelled.
    """

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        *,
        cancel: CancelToken | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.cancel = cancel or CancelToken()
        self.max_body = max_body

    # --- endpoints ------------------------------------------------------------------------

    def trigger_run(self, body: dict[str, Any]) -> Result:
        """POST the LiveKit v2 run. Not idempotent: every success places calls."""
        return self._parse(self._request("POST", TRIGGER_PATH, json=body), Result)

    def get_result(self, result_id: int) -> Result:
        """The result asked for; an answer about any other result is a BadAnswer, never used."""
        path = f"{RESULTS_PATH}{result_id}/"
        result = self._parse(self._request("GET", path), Result)
        if result.id != result_id:
            raise BadAnswer(
                f"GET {path}: Cekura answered with result {result.id} instead of {result_id}; "
                "the answer was not used"
            )
        return result

    def find_result_row(self, result_id: int, name: str, agent_id: int | None) -> Result | None:
        """The result's row in the results list: its status and each run's status, without the
        transcripts (for 10,000 runs about 1.6 MB instead of 30). None when the first page of a
        search by its name does not hold it."""
        page = self.list_results(search=name, agent_id=agent_id, page_size=10)
        return next((row for row in page.results if row.id == result_id), None)

    def find_results(
        self, name: str, agent_id: int | None, timeout: float | None = None
    ) -> list[Result]:
        """Every result whose name is exactly `name` (Cekura's `search` also matches parts).

        `timeout` bounds the whole search, however many pages it takes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        found: list[Result] = []
        for page in range(1, MAX_SEARCH_PAGES + 1):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TransientApiError(
                    f"GET {RESULTS_PATH}: the search for {name!r} took more than {timeout:g}s"
                )
            answer = self.list_results(
                search=name, agent_id=agent_id, page=page, page_size=50, timeout=left
            )
            found += [r for r in answer.results if (r.name or "").strip() == name.strip()]
            if not answer.next:
                return found
        raise TransientApiError(
            f"the search for {name!r} matched more than {MAX_SEARCH_PAGES} pages of results"
        )

    def end_calls(self, result_id: int, timeout: float = END_CALLS_TIMEOUT) -> None:
        self._request("POST", f"{RESULTS_PATH}{result_id}/end_calls/", timeout=timeout)

    def create_share_link(self, result_id: int, expire_at: str) -> ShareLink:
        response = self._request(
            "POST",
            f"{RESULTS_PATH}{result_id}/create_shareable_link_token/",
            json={"expire_at": expire_at},
        )
        return self._parse(response, ShareLink)

    def list_results(
        self,
        *,
        search: str,
        agent_id: int | None,
        page: int = 1,
        page_size: int = 100,
        timeout: float | None = None,
    ) -> ResultPage:
        """One page of the results list: names containing `search` (in any case), of one agent.
        Cekura promises no order; callers sort."""
        params: dict[str, Any] = {"search": search, "page": page, "page_size": page_size}
        if agent_id is not None:
            params["agent_id"] = agent_id
        response = self._request("GET", RESULTS_PATH, params=params, timeout=timeout)
        return self._parse(response, ResultPage)

    # --- the catalogue, billing and the dry-run price: nothing here places a call ----------

    SCENARIOS_PATH = "/test_framework/v1/scenarios/"
    EXPORT_PATH = "/test_framework/v1/scenarios/export_scenarios/"
    ESTIMATE_PATH = "/test_framework/v1/scenarios/run_scenarios_json/"
    AGENTS_PATH = "/test_framework/v1/aiagents/"
    BILLING_PATH = "/test_framework/billing/info/"
    SCENARIO_PAGE_SIZE = 100
    MAX_SCENARIO_PAGES = 200

    def list_scenarios(
        self,
        agent_id: int,
        *,
        tags: tuple[str, ...] = (),
        tag_filter_type: str = "or",
        folder_path: str = "",
    ) -> list[Scenario]:
        """Every scenario of the agent that matches, from every page, each once, in list order."""
        params: dict[str, Any] = {"agent_id": agent_id, "page_size": self.SCENARIO_PAGE_SIZE}
        if tags:
            params.update(tags=",".join(tags), tag_filter_type=tag_filter_type)
        if folder_path:
            params["folder_path"] = folder_path
        from cekura_ci.catalog import ScenarioPage

        found: dict[int, Scenario] = {}
        for page in range(1, self.MAX_SCENARIO_PAGES + 1):
            response = self._request("GET", self.SCENARIOS_PATH, params={**params, "page": page})
            answer = self._parse(response, ScenarioPage)
            for row in answer.results:
                found.setdefault(row.id, row)
            if not answer.next:
                return list(found.values())
        raise BadAnswer(
            f"GET {self.SCENARIOS_PATH}: more than {self.MAX_SCENARIO_PAGES} pages of scenarios "
            "match; choose fewer with scenario_tags or scenario_folder"
        )

    def get_scenario(self, scenario_id: int) -> Scenario:
        from cekura_ci.catalog import Scenario

        return self._parse(self._request("GET", f"{self.SCENARIOS_PATH}{scenario_id}/"), Scenario)

    def get_agent(self, agent_id: int) -> Agent:
        from cekura_ci.catalog import Agent

        return self._parse(self._request("GET", f"{self.AGENTS_PATH}{agent_id}/"), Agent)

    def export_scenarios(self, scenario_ids: list[int], agent_id: int) -> dict[str, Any]:
        """The scenarios as a test-suite spec (`export_type=json`), for the dry-run price."""
        from cekura_ci.catalog import Spec

        params = {
            "scenario_ids": ",".join(map(str, scenario_ids)),
            "agent_id": agent_id,
            "export_type": "json",
        }
        return self._parse(self._request("GET", self.EXPORT_PATH, params=params), Spec).root

    def estimate_run(self, body: dict[str, Any]) -> Estimate:
        """POST a spec with `dry_run=true`: Cekura validates and prices it, and creates nothing."""
        from cekura_ci.catalog import Estimate, EstimateAnswer

        response = self._request("POST", self.ESTIMATE_PATH, json=body, params={"dry_run": "true"})
        return Estimate.from_answer(self._parse(response, EstimateAnswer).root)

    def billing_info(self) -> BillingInfo:
        from cekura_ci.catalog import BillingInfo

        return self._parse(self._request("GET", self.BILLING_PATH), BillingInfo)

    # --- plumbing -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one request and read its whole body, within `timeout` seconds in all.

        Returns the response with its body already read (`response.content` is the bytes), or
        raises: Cancelled (the job was cancelled), TransientApiError (worth retrying), BadAnswer,
        RequestRejected, RequestNotSent or TlsVerificationFailed.
        """
        limit = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        try:
            response = send(
                self.session,
                method,
                self.base_url + path,
                limit=limit,
                cancel=self.cancel,
                max_body=self.max_body,
                json=json,
                params=params,
            )
        except Stopped as stop:
            if stop.cancelled:
                raise Cancelled(
                    self.cancel.signal_number or signal.SIGINT,
                    reached_server=stop.may_have_reached_server,
                ) from None
            raise TransientApiError(
                f"{method} {path}: no complete answer within {limit:g}s",
                reached_server=stop.may_have_reached_server,
            ) from None
        except Exception as exc:
            raise _api_error(method, path, exc, limit) from None
        log.debug(
            "%s %s → HTTP %s, %d bytes in %.0f ms",
            method,
            path,
            response.status_code,
            len(response.content),
            (time.monotonic() - started) * 1000,
        )
        _raise_for_status(method, path, response)
        return response

    @staticmethod
    def _parse(response: requests.Response, model: type[ModelT]) -> ModelT:
        """The body's bytes → the model. A result's runs are decoded and read one at a time, so a
        30 MB result never exists as a whole tree of Python objects (see jsonstream)."""
        try:
            with paused():
                return model.model_validate(loads_object(response.content, "runs", run_from_api))
        except (ValueError, RecursionError, ValidationError):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise TransientApiError(
                f"{response.request.method} {_path(response)}: HTTP {response.status_code} with a "
                f"body that is not the expected JSON ({kind}, {len(response.content)} bytes)",
                status=response.status_code,
            ) from None


# --- failures → typed errors ----------------------------------------------------------------


_UNUSABLE_URL = (
    requests.exceptions.URLRequired,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
)


def _api_error(method: str, path: str, exc: BaseException, limit: float) -> BaseException:
    """What a failure on the worker thread means, in the domain's words."""
    where = f"{method} {path}"
    if isinstance(exc, TooLarge):
        return BadAnswer(
            f"{where}: the answer is larger than the {exc.limit / 2**20:g} MiB that cekura-ci "
            f"reads (at least {exc.size:,} bytes once decoded); it was not used"
        )
    if isinstance(exc, NotAsked):
        return BadAnswer(
            f"{where}: the answer is encoded as {exc}, which cekura-ci did not ask for"
        )
    if isinstance(exc, zlib.error):
        return TransientApiError(f"{where}: the compressed answer could not be decoded")
    if isinstance(exc, requests.exceptions.InvalidProxyURL):
        return RequestNotSent(
            f"{where}: the proxy URL in the environment cannot be used; nothing was sent",
            fix="Check the job's HTTPS_PROXY and HTTP_PROXY variables.",
        )
    if isinstance(exc, _UNUSABLE_URL):
        return RequestNotSent(
            f"{where}: api_url does not make a usable URL (its host or port is not valid); "
            "nothing was sent",
            fix="Check api_url: a URL such as https://api.cekura.ai, with a valid host name and "
            "a port from 1 to 65535.",
        )
    if isinstance(exc, (requests.exceptions.InvalidJSONError, UnicodeError)):
        return RequestNotSent(
            f"{where}: the request body could not be encoded as JSON (NaN and Infinity are not "
            "JSON); nothing was sent",
            fix="Check livekit_data: it must be plain JSON, without NaN or Infinity.",
        )
    if isinstance(exc, requests.exceptions.InvalidHeader):  # never echo it: it may be the key
        return RequestNotSent(f"{where}: a request header is not valid; nothing was sent")
    verify = _certificate_failure(exc)
    if verify is not None:
        return TlsVerificationFailed(
            f"{where}: the TLS certificate of the server could not be verified ({verify}); "
            "nothing was sent"
        )
    if isinstance(exc, requests.ConnectionError):
        reached = not _never_connected(exc)
        why = "connection refused or unreachable" if not reached else "connection dropped"
        return TransientApiError(
            f"{where}: {why} ({type(_root_cause(exc)).__name__})", reached_server=reached
        )
    if isinstance(exc, requests.Timeout):
        return TransientApiError(f"{where}: no answer within {limit:g}s")
    if isinstance(exc, (requests.RequestException, HTTPError, OSError)):
        # Raised while the body was read (reset, cut short, a corrupt gzip stream).
        return TransientApiError(f"{where}: the answer was cut off ({type(exc).__name__})")
    return exc  # not a network failure: a bug, shown as one


def _certificate_failure(exc: BaseException) -> str | None:
    """Why verification failed, when the failure is the server's certificate (or its name)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
        if isinstance(cause, CertificateError):
            return "the certificate does not match the host name"
    return None


def _raise_for_status(method: str, path: str, response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{method} {path}: HTTP {status}"
    if is_transient_status(status):
        raise TransientApiError(
            f"{where}",
            status=status,
            retry_after=_retry_after(response.headers.get("Retry-After")),
            reached_server=status != 429,
        )
    detail = _api_message(response)
    if status in (401, 403):
        raise AuthenticationFailed(f"Cekura refused the API key: {where}{detail}", status=status)
    if status == 404:
        raise ResultNotFound(f"{where}: not found{detail}", status=status)
    if 300 <= status < 400:
        raise RequestRejected(
            f"{where}: Cekura answered with a redirect, which is not followed so that the key "
            "stays with api_url. Check the api_url input.",
            status=status,
        )
    if 400 <= status < 500:
        raise RequestRejected(f"Cekura refused the request ({where}){detail}", status=status)
    raise BadAnswer(f"{where}: not a status HTTP defines{detail}", status=status)


def _api_message(response: requests.Response, limit: int = 500) -> str:
    """The API's own words: DRF's {"field": ["message"]} or {"detail": "..."}; never raw HTML."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        parts = []
        for field, messages in body.items():
            text = "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
            parts.append(text if field in ("detail", "non_field_errors") else f"{field}: {text}")
        message = " | ".join(parts)
    elif isinstance(body, list):
        message = "; ".join(map(str, body))
    else:
        message = str(body)
    message = " ".join(message.split())
    if not message:
        return ""
    return ": " + clip(message, limit)


_DELTA_SECONDS = re.compile(r"[0-9]+")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds (ASCII digits only) or an HTTP date; None if absent
    or unreadable, so the usual back-off applies."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(min(int(value), 10**9))
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything behind it: urllib3 keeps causes in `reason`, requests in args."""
    chain: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or current in chain:
            continue
        chain.append(current)
        todo += [
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ]
    return chain


def _root_cause(exc: BaseException) -> BaseException:
    return _causes(exc)[-1]


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made, so the request provably never left."""
    never = (
        requests.ConnectTimeout,
        NewConnectionError,
        ConnectTimeoutError,
        ConnectionRefusedError,
    )
    return any(isinstance(cause, never) for cause in _causes(exc))


def _path(response: requests.Response) -> str:
    url = response.request.url or ""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
