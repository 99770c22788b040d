"""Routing and faults: match a path (aliases, with or without the trailing slash), check the key,
refuse a wrong method, inject the world's faults, parse the body, hand over, keep the request log.

The order is the one Django and DRF follow: an unknown path is Django's 404 page whatever the key;
then authentication (401), the method (405), permissions (403, for endpoints a world forbids),
then the injected fault, and the body is parsed only when the endpoint reads it (400, 415).
So a wrong key always gets 401, never an injected 503.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from .endpoints import Endpoints, Request
from .reply import Reply, detail, json_reply
from .timeline import EmulatedResult, Ledger
from .validation import bool_param
from .world import FaultSpec, World

V1 = "/test_framework/v1"
ID = r"(?P<id>[^/.]+)"


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    #: Every path it answers at: the canonical one first, then the aliases.
    paths: tuple[str, ...]

    def patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(f"^{path}/?$") for path in self.paths]


#: Order matters, as in Django's URL list: a list-level action comes before the detail route that
#: would otherwise take its name for an id (GET …/run_scenarios_livekit_v2/ is a 405, not a 404).
ROUTES: tuple[Route, ...] = (
    Route(
        "trigger",
        "POST",
        (
            f"{V1}/scenarios/run_scenarios_livekit_v2",
            f"{V1}/scenarios-external/run_scenarios_livekit_v2",
            "/test_framework/v2/scenarios/run_scenarios_livekit_v2",
        ),
    ),
    Route("run_json", "POST", (f"{V1}/scenarios/run_scenarios_json",)),
    Route(
        "export",
        "GET",
        (f"{V1}/scenarios/export_scenarios", f"{V1}/scenarios-external/export_scenarios"),
    ),
    Route("scenarios", "GET", (f"{V1}/scenarios", f"{V1}/scenarios-external")),
    Route("scenario", "GET", (f"{V1}/scenarios/{ID}",)),
    Route("results", "GET", (f"{V1}/results", f"{V1}/results-external")),
    Route(
        "end_calls",
        "POST",
        (f"{V1}/results/{ID}/end_calls", f"{V1}/results-external/{ID}/end_calls"),
    ),
    Route(
        "share_link",
        "POST",
        (
            f"{V1}/results/{ID}/create_shareable_link_token",
            f"{V1}/results-external/{ID}/create_shareable_link_token",
        ),
    ),
    Route("result", "GET", (f"{V1}/results/{ID}", f"{V1}/results-external/{ID}")),
    Route("runs_bulk", "GET", (f"{V1}/runs/bulk", f"{V1}/runs-external/bulk")),
    Route("runs", "GET", (f"{V1}/runs", f"{V1}/runs-external")),
    Route("agent", "GET", (f"{V1}/aiagents/{ID}",)),
    Route("billing", "GET", ("/test_framework/billing/info",)),
)
#: Endpoints that place calls (the JSON-spec run only without `dry_run`).
RUN_ENDPOINTS = frozenset({"trigger", "run_json"})

DJANGO_404 = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    "</body>\n</html>\n"
)
MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    "<body><h1>We'll be right back</h1><p>Cekura is being upgraded.</p></body></html>"
)
FORBIDDEN = {
    "billing": "Project-scoped API keys are not allowed.",
}


@dataclass
class LoggedRequest:
    method: str
    path: str
    #: The endpoint it reached (see ROUTES), or None for a path the stand-in does not serve.
    endpoint: str | None
    query: dict[str, list[str]]
    body: Any
    authorized: bool
    status: int | None = None
    fault: str | None = None
    #: It asked to start runs: a POST to a run endpoint, the JSON-spec run without `dry_run`
    #: (whatever the answer was).
    starts_runs: bool = False
    #: The id of the result it created, if it created one.
    created_result: int | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class EmulatedCekura:
    """Thread-safe state behind the HTTP server; time is `clock() * world.speed` emulated seconds,
    and the creation times it shows are `wall()` (earlier results: `wall()` at start minus age)."""

    def __init__(
        self,
        world: World,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.world = world
        self.clock = clock
        self.requests: list[LoggedRequest] = []
        self.ledger = Ledger(world, wall())
        self.endpoints = Endpoints(world, self.ledger, self.now, wall)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._routes = [(route, pattern) for route in ROUTES for pattern in route.patterns()]

    @property
    def results(self) -> dict[int, EmulatedResult]:
        return self.ledger.results

    def now(self) -> float:
        return self.clock() * self.world.speed

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes, base_url: str
    ) -> Reply:
        path, _, query_text = target.partition("?")
        path = unquote(path)
        query = parse_qs(query_text, keep_blank_values=True)
        if path.rstrip("/") == "/_emulator/requests" and method == "GET":
            with self._lock:  # for tests that run the stand-in out of process
                return json_reply(200, [asdict(entry) for entry in self.requests])
        route, params = self._route(path)
        endpoint = route.endpoint if route else None
        key = headers.get("x-cekura-api-key")
        entry = LoggedRequest(
            method,
            path,
            endpoint,
            query,
            _loggable(raw_body),
            authorized=key == self.world.api_key,
            starts_runs=(
                endpoint in RUN_ENDPOINTS
                and method == "POST"
                and not (endpoint == "run_json" and bool_param(query, "dry_run"))
            ),
        )
        with self._lock:
            self.requests.append(entry)
            reply = self._answer(route, params, entry, key, headers, raw_body, base_url)
        entry.status = reply.status if reply.action != "drop" else None
        return reply

    def _route(self, path: str) -> tuple[Route | None, dict[str, str]]:
        for route, pattern in self._routes:
            match = pattern.match(path)
            if match:
                return route, match.groupdict()
        return None, {}

    def _answer(
        self,
        route: Route | None,
        params: dict[str, str],
        entry: LoggedRequest,
        key: str | None,
        headers: dict[str, str],
        raw_body: bytes,
        base_url: str,
    ) -> Reply:
        if route is None:
            return Reply(404, DJANGO_404.encode(), "text/html; charset=utf-8")
        if key is None:
            return detail(401, "Authentication credentials were not provided.")
        if key != self.world.api_key:
            return detail(401, "Invalid API key.")
        if entry.method != route.method:
            return detail(
                405,
                f'Method "{entry.method}" not allowed.',
                Allow=f"{route.method}, OPTIONS",
            )
        if route.endpoint in self.world.forbidden or "any" in self.world.forbidden:
            return detail(
                403,
                FORBIDDEN.get(route.endpoint, "You do not have permission to perform this action."),
            )
        fault = self._fault_for(route.endpoint)
        entry.fault = fault.kind if fault else None
        early = _fault_reply(fault)
        if early is not None:
            return early
        body: Any = None
        if route.method == "POST":
            parsed = _parse_body(headers.get("content-type", ""), raw_body)
            if isinstance(parsed, Reply):
                return parsed
            body = parsed
        request = Request(
            entry.method, entry.path, base_url + entry.path, params, entry.query, body
        )
        reply: Reply = getattr(self.endpoints, route.endpoint)(request)
        entry.created_result = request.created
        if fault and fault.kind == "truncated":
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        elif fault and fault.kind == "drop_after":
            reply.action = "drop"
        elif fault and fault.kind == "slow":
            reply.action, reply.delay = "slow", fault.delay
        return reply

    def _fault_for(self, endpoint: str) -> FaultSpec | None:
        self._counts[endpoint] = count = self._counts.get(endpoint, 0) + 1
        return next((f for f in self.world.faults if f.applies(endpoint, count)), None)


def _fault_reply(fault: FaultSpec | None) -> Reply | None:
    """The answer of a fault that stands in for the endpoint's own (None: the endpoint answers)."""
    if fault is None:
        return None
    if fault.kind == "drop":
        return Reply(0, action="drop")
    if fault.kind == "status":
        extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return detail(fault.status, f"Emulated fault: HTTP {fault.status}.", **extra)
    if fault.kind == "html":
        return Reply(
            fault.status if fault.status < 300 else 200, MAINTENANCE_PAGE.encode(), "text/html"
        )
    return None


def _parse_body(content_type: str, raw: bytes) -> Any:
    """DRF's parsers: JSON, or a form; nothing is an empty body; anything else is 415."""
    if not raw:
        return None
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return detail(400, f"JSON parse error - {exc}")
    if media == "application/x-www-form-urlencoded":
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[-1] for name, values in form.items()}
    return detail(415, f'Unsupported media type "{media}" in request.')


def _loggable(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")
