"""The emulated Cekura API: routing, auth, validation, the result lifecycle and injected faults.

Answers are shaped as the OpenAPI document says, awkward parts included: the result detail keys
`runs` by run-id strings, counts are strings, and id lists are JSON text in string fields.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from cekura_ci.emulator.world import FaultSpec, ScenarioSpec, World

API = "/test_framework/v1"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(rf"^{API}/scenarios/run_scenarios_livekit_v2/$"), "trigger"),
    ("GET", re.compile(rf"^{API}/results/$"), "results"),
    ("GET", re.compile(rf"^{API}/results/(?P<id>[^/]+)/$"), "result"),
    ("POST", re.compile(rf"^{API}/results/(?P<id>[^/]+)/end_calls/$"), "end_calls"),
    (
        "POST",
        re.compile(rf"^{API}/results/(?P<id>[^/]+)/create_shareable_link_token/$"),
        "share_link",
    ),
    ("GET", re.compile(rf"^{API}/scenarios/$"), "scenarios"),
    ("GET", re.compile(rf"^{API}/scenarios/(?P<id>[^/]+)/$"), "scenario"),
    ("GET", re.compile(rf"^{API}/aiagents/(?P<id>[^/]+)/$"), "agent"),
]
MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    "<body><h1>We'll be right back</h1><p>Cekura is being upgraded.</p></body></html>"
)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: "drop" closes the connection without an answer; "slow" waits `delay` real seconds first.
    action: str | None = None
    delay: float = 0.0


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers)


@dataclass
class LoggedRequest:
    method: str
    path: str
    endpoint: str | None
    query: dict[str, list[str]]
    body: Any
    authorized: bool
    status: int | None = None
    fault: str | None = None


# --- request bodies, validated as the real API does ------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LivekitScenarioIn(_Body):
    scenario: StrictInt
    publish_data_message: Any = None


class LivekitDataIn(_Body):
    config: Any = None
    agent_name: StrictStr | None = None
    url: StrictStr | None = None


class RunLivekitIn(_Body):
    name: StrictStr | None = None
    frequency: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    scenarios: list[LivekitScenarioIn]
    agent: StrictInt | None = None
    personality_ids: list[StrictInt] | None = None
    test_profile_ids: list[StrictInt] | None = None
    mock_tool_names: list[StrictStr] | None = None
    livekit_data: LivekitDataIn | None = None
    concurrency_limit: StrictInt | None = None
    personality_id: StrictInt | None = None
    test_profile_id: StrictInt | None = None


class ShareLinkIn(_Body):
    expire_at: StrictStr | None = None


_DRF_MESSAGES = {
    "missing": "This field is required.",
    "int_type": "A valid integer is required.",
    "string_type": "Not a valid string.",
    "list_type": 'Expected a list of items but got type "{kind}".',
    "model_type": "Invalid data. Expected a dictionary, but got {kind}.",
    "greater_than_equal": "Ensure this value is greater than or equal to {ge}.",
    "less_than_equal": "Ensure this value is less than or equal to {le}.",
}


def drf_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic errors in Django REST framework's shape: {field: [messages]}."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "non_field_errors"
        ctx = {
            "kind": type(err.get("input")).__name__,
            **{k: v for k, v in (err.get("ctx") or {}).items()},
        }
        template = _DRF_MESSAGES.get(err["type"], err["msg"])
        try:
            message = template.format(**ctx)
        except (KeyError, IndexError):
            message = err["msg"]
        errors.setdefault(name, []).append(message)
    return errors


# --- the world's state -----------------------------------------------------------------------


@dataclass
class EmulatedRun:
    id: int
    scenario: ScenarioSpec
    repetition: int
    starts: float
    ends: float
    evaluated: float


@dataclass
class EmulatedResult:
    id: int
    name: str
    agent: int
    created: float
    created_at: str
    runs: list[EmulatedRun]
    settings: dict[str, Any]
    ended_at: float | None = None
    share_tokens: list[str] = field(default_factory=list)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _mmss(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


class EmulatedCekura:
    """Thread-safe state behind the HTTP server; time is `clock() * world.speed` emulated seconds."""

    def __init__(self, world: World, clock: Callable[[], float] = time.monotonic) -> None:
        self.world = world
        self.clock = clock
        self.requests: list[LoggedRequest] = []
        self.results: dict[int, EmulatedResult] = {}
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._next_result_id = 9001
        self._next_run_id = 500001

    def now(self) -> float:
        return self.clock() * self.world.speed

    # --- entry point ------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes, base_url: str
    ) -> Reply:
        path, _, query_text = target.partition("?")
        query = parse_qs(query_text, keep_blank_values=True)
        if (
            path == "/_emulator/requests" and method == "GET"
        ):  # for tests that run us out of process
            with self._lock:
                return json_reply(200, [asdict(entry) for entry in self.requests])
        endpoint, params = self._route(method, path)
        body = self._decode(raw_body)
        authorized = headers.get("x-cekura-api-key") == self.world.api_key
        entry = LoggedRequest(method, path, endpoint, query, body, authorized)
        with self._lock:
            self.requests.append(entry)
            fault = self._fault_for(endpoint)
            reply = self._dispatch(endpoint, params, query, body, headers, base_url, fault)
        entry.status = reply.status if reply.action != "drop" else None
        entry.fault = fault.kind if fault else None
        return reply

    def _route(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        for route_method, pattern, name in ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                return name, match.groupdict()
        return None, {}

    @staticmethod
    def _decode(raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return raw.decode("utf-8", "replace")

    def _fault_for(self, endpoint: str | None) -> FaultSpec | None:
        if endpoint is None:
            return None
        self._counts[endpoint] = count = self._counts.get(endpoint, 0) + 1
        return next((f for f in self.world.faults if f.applies(endpoint, count)), None)

    def _dispatch(
        self,
        endpoint: str | None,
        params: dict[str, str],
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
        base_url: str,
        fault: FaultSpec | None,
    ) -> Reply:
        if fault and fault.kind == "drop":
            return Reply(0, action="drop")
        if fault and fault.kind == "status":
            extra = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            return json_reply(
                fault.status, {"detail": f"Emulated fault: HTTP {fault.status}."}, **extra
            )
        if fault and fault.kind == "html":
            return Reply(
                fault.status if fault.status < 300 else 200, MAINTENANCE_PAGE.encode(), "text/html"
            )
        if endpoint is None:
            return json_reply(404, {"detail": "Not found."})
        if "x-cekura-api-key" not in headers:
            return json_reply(401, {"detail": "Authentication credentials were not provided."})
        if headers["x-cekura-api-key"] != self.world.api_key:
            return json_reply(401, {"detail": "Invalid API key."})
        handler = getattr(self, f"_{endpoint}")
        reply: Reply = handler(params=params, query=query, body=body, base_url=base_url)
        if fault and fault.kind == "truncated":
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        elif fault and fault.kind == "drop_after":
            reply.action = "drop"
        elif fault and fault.kind == "slow":
            reply.action, reply.delay = "slow", fault.delay
        return reply

    # --- endpoints ----------------------------------------------------------------------------

    def _trigger(self, body: Any, **_: Any) -> Reply:
        if not isinstance(body, dict):
            return json_reply(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
        try:
            request = RunLivekitIn.model_validate(body)
        except ValidationError as exc:
            return json_reply(400, drf_errors(exc))
        if not request.scenarios:
            return json_reply(400, {"scenarios": ["This list may not be empty."]})
        missing = [s.scenario for s in request.scenarios if self.world.scenario(s.scenario) is None]
        if missing:
            return json_reply(
                400,
                {"scenarios": [f'Invalid pk "{pk}" - object does not exist.' for pk in missing]},
            )
        specs = [self.world.scenario(s.scenario) for s in request.scenarios]
        agent_id = request.agent if request.agent is not None else specs[0].agent
        if self.world.agent(agent_id) is None:
            return json_reply(400, {"agent": [f'Invalid pk "{agent_id}" - object does not exist.']})
        result = self._create(request, agent_id, [s for s in specs if s is not None])
        return json_reply(200, self._trigger_answer(result))

    def _create(
        self, request: RunLivekitIn, agent_id: int, specs: list[ScenarioSpec]
    ) -> EmulatedResult:
        timing = self.world.timing
        concurrency = min(
            request.concurrency_limit or self.world.concurrency, self.world.concurrency
        )
        now = self.now()
        slot_free = [now + timing.in_queue + timing.scaling_up] * max(1, concurrency)
        runs = []
        for repetition in range(1, request.frequency + 1):
            for spec in specs:
                slot = min(range(len(slot_free)), key=slot_free.__getitem__)
                starts = slot_free[slot]
                ends = starts + spec.duration
                slot_free[slot] = ends
                runs.append(
                    EmulatedRun(
                        self._next_run_id, spec, repetition, starts, ends, ends + timing.evaluating
                    )
                )
                self._next_run_id += 1
        result = EmulatedResult(
            id=self._next_result_id,
            name=request.name or f"Result {self._next_result_id}",
            agent=agent_id,
            created=now,
            created_at=_iso(dt.datetime.now(dt.timezone.utc)),
            runs=runs,
            settings=request.model_dump(exclude={"scenarios", "name", "agent"}, exclude_none=True),
        )
        self._next_result_id += 1
        self.results[result.id] = result
        return result

    def _lookup(self, params: dict[str, str]) -> EmulatedResult | Reply:
        try:
            result = self.results.get(int(params["id"]))
        except ValueError:
            result = None
        return (
            result
            if result is not None
            else json_reply(404, {"detail": "No Result matches the given query."})
        )

    def _result(self, params: dict[str, str], **_: Any) -> Reply:
        found = self._lookup(params)
        return found if isinstance(found, Reply) else json_reply(200, self._detail(found))

    def _results(self, query: dict[str, list[str]], base_url: str, **_: Any) -> Reply:
        rows = sorted(self.results.values(), key=lambda r: -r.id)
        search = (query.get("search") or [""])[0].lower()
        if search:
            rows = [r for r in rows if search in r.name.lower()]
        agent = (query.get("agent_id") or [None])[0]
        if agent is not None:
            rows = [r for r in rows if str(r.agent) == agent]
        page, size, error = _paging(query)
        if error:
            return error
        chunk = rows[(page - 1) * size : page * size]
        return json_reply(
            200, _page(rows, chunk, page, size, query, base_url + f"{API}/results/", self._list_row)
        )

    def _end_calls(self, params: dict[str, str], **_: Any) -> Reply:
        found = self._lookup(params)
        if isinstance(found, Reply):
            return found
        if found.ended_at is None:
            found.ended_at = self.now()
        return Reply(200)

    def _share_link(self, params: dict[str, str], body: Any, **_: Any) -> Reply:
        found = self._lookup(params)
        if isinstance(found, Reply):
            return found
        try:
            request = ShareLinkIn.model_validate(body or {})
            if request.expire_at:
                dt.datetime.fromisoformat(request.expire_at.replace("Z", "+00:00"))
        except ValidationError as exc:
            return json_reply(400, drf_errors(exc))
        except ValueError:
            return json_reply(400, {"expire_at": ["Datetime has wrong format."]})
        token = secrets.token_urlsafe(16)
        found.share_tokens.append(token)
        return json_reply(
            200, {"token": token, "shareable_link": f"https://dashboard.cekura.ai/share/{token}"}
        )

    def _scenarios(self, query: dict[str, list[str]], base_url: str, **_: Any) -> Reply:
        rows = list(self.world.scenarios)
        agent = (query.get("agent_id") or [None])[0]
        if agent is not None:
            rows = [s for s in rows if str(s.agent) == agent]
        tags = [t for t in (query.get("tags") or [""])[0].split(",") if t]
        if tags:
            how = (query.get("tag_filter_type") or ["or"])[0]
            test = {"and": all, "or": any}.get(how)
            if test is None:  # "not"
                rows = [s for s in rows if not any(t in s.tags for t in tags)]
            else:
                rows = [s for s in rows if test(t in s.tags for t in tags)]
        if "folder_path" in query:
            folder = query["folder_path"][0]
            rows = [s for s in rows if (s.folder_path or "") == folder]
        page, size, error = _paging(query)
        if error:
            return error
        chunk = rows[(page - 1) * size : page * size]
        return json_reply(
            200,
            _page(
                rows,
                chunk,
                page,
                size,
                query,
                base_url + f"{API}/scenarios/",
                self._scenario_list_row,
            ),
        )

    def _scenario(self, params: dict[str, str], **_: Any) -> Reply:
        spec = self.world.scenario(int(params["id"])) if params["id"].isdigit() else None
        if spec is None:
            return json_reply(404, {"detail": "No Scenario matches the given query."})
        return json_reply(200, self._scenario_row(spec))

    def _agent(self, params: dict[str, str], **_: Any) -> Reply:
        agent = self.world.agent(int(params["id"])) if params["id"].isdigit() else None
        if agent is None:
            return json_reply(404, {"detail": "No AIAgent matches the given query."})
        return json_reply(
            200,
            {
                **agent.model_dump(),
                "assistant_provider": "livekit",
                "livekit_api_key_configured": "true",
            },
        )

    # --- answers ------------------------------------------------------------------------------

    def _run_state(self, result: EmulatedResult, run: EmulatedRun) -> dict[str, Any]:
        """A run as the detail shows it at this emulated moment."""
        now = self.now()
        ended = (
            result.ended_at is not None
            and result.ended_at < run.evaluated
            and now >= result.ended_at
        )
        state: dict[str, Any] = {
            "id": run.id,
            "scenario": run.scenario.id,
            "scenario_name": run.scenario.name,
            "personality_name": "Normal Female",
            "outbound_number": "",
            "inbound_number": "",
            "metadata": {},
            "timestamp": result.created_at,
            "executed_at": None,
            "error_message": "",
            "success": False,
            "duration": "00:00",
            "expected_outcome": None,
            "evaluation": {"metrics": []},
            "transcript": "",
            "transcript_object": [],
        }
        if ended:
            return {**state, "status": "cancelled", "error_message": "Call ended by user."}
        if now < run.starts:
            return {**state, "status": "pending"}
        if now < run.ends:
            return {**state, "status": "running", "executed_at": result.created_at}
        outcome = run.scenario.outcome_of(run.repetition)
        if outcome == "error":
            return {**state, "status": "failed", "error_message": run.scenario.error_message}
        conversation = _conversation(run.scenario, outcome)
        state.update(
            executed_at=result.created_at,
            duration=_mmss(run.scenario.duration),
            transcript="\n".join(
                f"[00:{i:02d}] {t['role']}: {t['content']}" for i, t in enumerate(conversation)
            ),
            transcript_object=conversation,
        )
        if now < run.evaluated:
            return {**state, "status": "evaluating"}
        passed = outcome == "pass"
        return {
            **state,
            "status": "completed",
            "success": passed,
            "expected_outcome": {
                "score": 100 if passed else 0,
                "explanation": ["✅ The caller's request was understood."]
                + ([] if passed else [f"❌ {run.scenario.failure_explanation}"]),
                "outcome_alignments": [],
            },
            "evaluation": {"metrics": _metrics(run.scenario, passed)},
        }

    def _status(self, result: EmulatedResult, runs: list[dict[str, Any]]) -> str:
        elapsed = self.now() - result.created
        statuses = {r["status"] for r in runs}
        if result.ended_at is not None and "cancelled" in statuses:
            return "cancelled"
        if elapsed < self.world.timing.in_queue:
            return "in_queue"
        if elapsed < self.world.timing.in_queue + self.world.timing.scaling_up:
            return "scaling_up"
        if statuses & {"pending", "running"}:
            return "running"
        if "evaluating" in statuses:
            return "evaluating"
        return "failed" if statuses == {"failed"} else "completed"

    def _detail(self, result: EmulatedResult) -> dict[str, Any]:
        runs = [self._run_state(result, run) for run in result.runs]
        done = [r for r in runs if r["status"] in ("completed", "failed", "cancelled")]
        success = [r for r in runs if r["success"]]
        not_connected = [r["id"] for r in done if not r["transcript_object"]]
        connected = [r["id"] for r in runs if r["transcript_object"]]
        total_seconds = sum(run.scenario.duration for run in result.runs)
        agent = self.world.agent(result.agent)
        return {
            "id": result.id,
            "name": result.name,
            "agent": result.agent,
            "agent_name": agent.agent_name if agent else "",
            "status": self._status(result, runs),
            "met_expected_outcome_count": str(len(success)),
            "total_expected_outcome_count": str(len(done)),
            "success_rate": round(100 * len(success) / len(runs), 2) if runs else 0.0,
            "run_as_text": False,
            "is_cronjob": "false",
            "runs": {str(r["id"]): r for r in runs},
            # The schema's oneOf [{}, null] rejects null (it matches both), so always an object.
            "overall_evaluation": {
                "success_rate": round(100 * len(success) / len(runs), 2) if runs else 0.0,
                "metric_summary": {},
            },
            "total_duration": _mmss(total_seconds),
            "total_runs_count": str(len(runs)),
            "completed_runs_count": str(len(done)),
            "success_runs_count": str(len(success)),
            "failed_runs_count": str(len(done) - len(success)),
            "connected_runs": json.dumps(connected),
            "not_connected_runs": json.dumps(not_connected),
            "failed_infrastructure_runs": json.dumps(not_connected),
            "successful_calls": json.dumps([r["id"] for r in success]),
            "scenarios": json.dumps(
                [
                    {"id": s.id, "name": s.name}
                    for s in {r.scenario.id: r.scenario for r in result.runs}.values()
                ]
            ),
            "run_settings": {
                "frequency": max(r.repetition for r in result.runs),
                **result.settings,
            },
            "created_at": result.created_at,
            "updated_at": _iso(dt.datetime.now(dt.timezone.utc)),
        }

    def _trigger_answer(self, result: EmulatedResult) -> dict[str, Any]:
        return {
            "id": result.id,
            "agent": result.agent,
            "status": "pending",
            "run_as_text": False,
            "runs": [
                {
                    "id": run.id,
                    "status": "pending",
                    "scenario": run.scenario.id,
                    "inbound_number": None,
                    "scenario_name": run.scenario.name,
                    "test_profile_data": None,
                    "outbound_dial_window_opens_at": None,
                    "outbound_dial_window_seconds": None,
                    "outbound_dial_window_closes_at": None,
                }
                for run in result.runs
            ],
            "created_at": result.created_at,
        }

    def _list_row(self, result: EmulatedResult) -> dict[str, Any]:
        detail = self._detail(result)
        keep = (
            "id", "name", "agent", "agent_name", "status", "success_rate", "run_as_text", "is_cronjob",
            "met_expected_outcome_count", "total_expected_outcome_count", "total_runs_count",
            "completed_runs_count", "success_runs_count", "failed_runs_count", "created_at", "updated_at",
        )  # fmt: skip
        row = {key: detail[key] for key in keep}
        row["runs"] = {
            key: {k: run[k] for k in ("id", "status", "scenario", "scenario_name", "success")}
            for key, run in detail["runs"].items()
        }
        row["scenarios"] = {str(s["id"]): s["name"] for s in json.loads(detail["scenarios"])}
        row["agent_inbound"] = True
        return row

    def _scenario_row(self, spec: ScenarioSpec) -> dict[str, Any]:
        agent = self.world.agent(spec.agent)
        return {
            "id": spec.id,
            "name": spec.name,
            "agent": spec.agent,
            "agent_name": agent.agent_name if agent else "",
            "instructions": spec.instructions,
            "expected_outcome_prompt": spec.expected_outcome_prompt,
            "tags": spec.tags,
            "folder_path": spec.folder_path,
            "scenario_type": "instruction",
            "scenario_language": "en",
            "personality": 1,
            "personality_name": "Normal Female",
            "metric_names": [spec.failing_metric],
        }

    def _scenario_list_row(self, spec: ScenarioSpec) -> dict[str, Any]:
        """The list types `metric_names` as a string (JSON text), the detail as an array."""
        row = self._scenario_row(spec)
        return {**row, "metric_names": json.dumps(row["metric_names"])}


def _paging(query: dict[str, list[str]]) -> tuple[int, int, Reply | None]:
    try:
        page = int((query.get("page") or ["1"])[0])
        size = int((query.get("page_size") or ["10"])[0])
    except ValueError:
        return 1, 10, json_reply(404, {"detail": "Invalid page."})
    if page < 1 or size < 1:
        return 1, 10, json_reply(404, {"detail": "Invalid page."})
    return page, min(size, 100), None


def _page(
    rows: list[Any],
    chunk: list[Any],
    page: int,
    size: int,
    query: dict[str, list[str]],
    url: str,
    render: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    if page > 1 and not chunk:
        return {"count": len(rows), "next": None, "previous": None, "results": []}

    def link(number: int) -> str:
        params = {k: v[0] for k, v in query.items()}
        params.update(page=str(number), page_size=str(size))
        return f"{url}?{urlencode(params)}"

    return {
        "count": len(rows),
        "next": link(page + 1) if page * size < len(rows) else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": [render(row) for row in chunk],
    }


def _conversation(spec: ScenarioSpec, outcome: str) -> list[dict[str, Any]]:
    last = (
        "Great, you're all set. Is there anything else I can help with?"
        if outcome == "pass"
        else "Done. Anything else?"
    )
    turns = [
        ("Main Agent", "Thanks for calling. How can I help you today?"),
        ("Testing Agent", f"Hi, I'm calling about this: {spec.name.lower()}."),
        ("Main Agent", "Sure, let me check that for you."),
        ("Testing Agent", "Thank you."),
        ("Main Agent", last),
        ("Testing Agent", "No, that's all. Bye."),
    ]
    return [
        {
            "role": role,
            "content": text,
            "timestamp": float(i * 4),
            "normalized_content": text.lower(),
            "comparison_spans": [],
        }
        for i, (role, text) in enumerate(turns)
    ]


def _metrics(spec: ScenarioSpec, passed: bool) -> list[dict[str, Any]]:
    return [
        {
            "id": 7001,
            "name": spec.failing_metric,
            "type": "binary",
            "score": 5 if passed else 0,
            "enum": "",
            "value": "",
            "explanation": ["Requirement met."] if passed else [spec.failure_explanation],
            "extra": {},
        },
        {
            "id": 7002,
            "name": "Average latency (ms)",
            "type": "numeric",
            "score": 640 + 15 * (spec.id % 7),
            "enum": "",
            "value": "",
            "explanation": [],
            "extra": {"percentiles": {"p50": 640 + 15 * (spec.id % 7)}},
        },
    ]
