"""The Cekura HTTP API: one session, the auth header, HTTP failures → typed errors, answers → models."""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, SecretStr, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from cekura_ci import __version__
from cekura_ci.catalog import (
    Agent,
    BillingInfo,
    Estimate,
    EstimateAnswer,
    Scenario,
    ScenarioPage,
    Spec,
)
from cekura_ci.errors import (
    ApiError,
    AuthenticationFailed,
    RequestRejected,
    ResultNotFound,
    TransientApiError,
)
from cekura_ci.jsonstream import loads_object
from cekura_ci.models import Result, ResultPage, ShareLink, run_from_api
from cekura_ci.text import clip

log = logging.getLogger(__name__)

TRIGGER_PATH = "/test_framework/v1/scenarios/run_scenarios_livekit_v2/"
RESULTS_PATH = "/test_framework/v1/results/"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_SEARCH_PAGES = 5

ModelT = TypeVar("ModelT", bound=BaseModel)


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
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.5,
        respect_retry_after_header=False,  # 429 and its Retry-After are handled, and logged, by ride_out
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class CekuraClient:
    """Speaks the part of Cekura's API that cekura-ci uses; returns models, raises ApiError."""

    def __init__(self, base_url: str, session: requests.Session, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout

    # --- endpoints ------------------------------------------------------------------------

    def trigger_run(self, body: dict[str, Any]) -> Result:
        """POST the LiveKit v2 run. Not idempotent: every success places calls."""
        return self._parse(self._request("POST", TRIGGER_PATH, json=body), Result)

    def get_result(self, result_id: int) -> Result:
        return self._parse(self._request("GET", f"{RESULTS_PATH}{result_id}/"), Result)

    def find_result_row(self, result_id: int, name: str, agent_id: int | None) -> Result | None:
        """The result's row in the results list: its status and each run's status, without the
        transcripts (for 10,000 runs about 1.6 MB instead of 30). None when the first page of a
        search by its name does not hold it."""
        params: dict[str, Any] = {"search": name, "page_size": 10}
        if agent_id is not None:
            params["agent_id"] = agent_id
        page = self._parse(self._request("GET", RESULTS_PATH, params=params), ResultPage)
        return next((row for row in page.results if row.id == result_id), None)

    def find_results(self, name: str, agent_id: int | None) -> list[Result]:
        """Every result whose name is exactly `name` (Cekura's `search` also matches parts)."""
        params: dict[str, Any] = {"search": name, "page_size": 50}
        if agent_id is not None:
            params["agent_id"] = agent_id
        found: list[Result] = []
        for page in range(1, MAX_SEARCH_PAGES + 1):
            answer = self._parse(
                self._request("GET", RESULTS_PATH, params={**params, "page": page}), ResultPage
            )
            found += [r for r in answer.results if (r.name or "").strip() == name.strip()]
            if not answer.next:
                return found
        raise TransientApiError(
            f"the search for {name!r} matched more than {MAX_SEARCH_PAGES} pages of results"
        )

    def end_calls(self, result_id: int, timeout: float | None = None) -> None:
        self._request("POST", f"{RESULTS_PATH}{result_id}/end_calls/", timeout=timeout)

    def create_share_link(self, result_id: int, expire_at: str) -> ShareLink:
        response = self._request(
            "POST",
            f"{RESULTS_PATH}{result_id}/create_shareable_link_token/",
            json={"expire_at": expire_at},
        )
        return self._parse(response, ShareLink)

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
        found: dict[int, Scenario] = {}
        for page in range(1, self.MAX_SCENARIO_PAGES + 1):
            response = self._request("GET", self.SCENARIOS_PATH, params={**params, "page": page})
            answer = self._parse(response, ScenarioPage)
            for row in answer.results:
                found.setdefault(row.id, row)
            if not answer.next:
                return list(found.values())
        raise ApiError(
            f"GET {self.SCENARIOS_PATH}: more than {self.MAX_SCENARIO_PAGES} pages of scenarios "
            "match; choose fewer with scenario_tags or scenario_folder"
        )

    def get_scenario(self, scenario_id: int) -> Scenario:
        return self._parse(self._request("GET", f"{self.SCENARIOS_PATH}{scenario_id}/"), Scenario)

    def get_agent(self, agent_id: int) -> Agent:
        return self._parse(self._request("GET", f"{self.AGENTS_PATH}{agent_id}/"), Agent)

    def export_scenarios(self, scenario_ids: list[int], agent_id: int) -> dict[str, Any]:
        """The scenarios as a test-suite spec (`export_type=json`), for the dry-run price."""
        params = {
            "scenario_ids": ",".join(map(str, scenario_ids)),
            "agent_id": agent_id,
            "export_type": "json",
        }
        return self._parse(self._request("GET", self.EXPORT_PATH, params=params), Spec).root

    def estimate_run(self, body: dict[str, Any]) -> Estimate:
        """POST a spec with `dry_run=true`: Cekura validates and prices it, and creates nothing."""
        response = self._request("POST", self.ESTIMATE_PATH, json=body, params={"dry_run": "true"})
        return Estimate.from_answer(self._parse(response, EstimateAnswer).root)

    def billing_info(self) -> BillingInfo:
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
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                timeout=timeout or self.timeout,
                # A redirect would carry the key header to wherever Cekura's answer points.
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            reached = not _never_connected(exc)
            why = "connection refused or unreachable" if not reached else "connection dropped"
            raise TransientApiError(
                f"{method} {path}: {why} ({type(_root_cause(exc)).__name__})",
                reached_server=reached,
            ) from None
        except requests.Timeout:
            raise TransientApiError(
                f"{method} {path}: no answer within {timeout or self.timeout:g}s"
            ) from None
        except requests.RequestException as exc:
            raise TransientApiError(f"{method} {path}: {type(exc).__name__}") from None
        log.debug(
            "%s %s → HTTP %s in %.0f ms",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        _raise_for_status(method, path, response)
        return response

    @staticmethod
    def _parse(response: requests.Response, model: type[ModelT]) -> ModelT:
        """The body's bytes → the model. A result's runs are decoded and read one at a time, so a
        30 MB result never exists as a whole tree of Python objects (see jsonstream)."""
        try:
            return model.model_validate(loads_object(response.content, "runs", run_from_api))
        except (ValueError, RecursionError, ValidationError):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise TransientApiError(
                f"{response.request.method} {_path(response)}: HTTP {response.status_code} with a "
                f"body that is not the expected JSON ({kind}, {len(response.content)} bytes)",
                status=response.status_code,
            ) from None


def _raise_for_status(method: str, path: str, response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{method} {path}: HTTP {status}"
    if status in RETRYABLE_STATUSES:
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
    raise ApiError(f"{where}: unexpected answer{detail}", status=status)


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


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
