"""The world file: what the stand-in serves (agents, scenarios, earlier results) and how it behaves."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

RunOutcome = Literal["pass", "fail", "error", "timeout"]
ResultStatus = Literal[
    "pending",
    "in_queue",
    "scaling_up",
    "in_progress",
    "running",
    "evaluating",
    "completed",
    "failed",
    "timeout",
    "cancelled",
]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "timeout", "cancelled"})
Endpoint = Literal[
    "trigger",
    "result",
    "results",
    "end_calls",
    "share_link",
    "runs",
    "runs_bulk",
    "scenarios",
    "scenario",
    "agent",
    "export",
    "run_json",
    "billing",
    "any",
]
FaultKind = Literal["status", "html", "truncated", "drop", "drop_after", "slow"]


def _pattern(value: object) -> object:
    """`flaky` is pass, fail, …; one word is always that; a list is cycled per repetition."""
    if value == "flaky":
        return ["pass", "fail"]
    return [value] if isinstance(value, str) else value


Outcomes = Annotated[list[RunOutcome], BeforeValidator(_pattern), Field(min_length=1)]

_AGE_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_AGE_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def _seconds(value: object) -> object:
    """An age: seconds as a number, or text such as `1d`, `3d 4h`, `90m`."""
    if isinstance(value, str):
        text = value.strip().lower()
        parts = _AGE_PART.findall(text)
        if not parts or _AGE_PART.sub("", text).strip():
            raise ValueError(f"{value!r} is not an age such as '1d', '3d 4h', '90m' or '45s'")
        return sum(float(n) * _AGE_UNITS[unit] for n, unit in parts)
    return value


Age = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]


def outcome_at(pattern: list[RunOutcome], repetition: int) -> RunOutcome:
    return pattern[(repetition - 1) % len(pattern)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentSpec(_Strict):
    id: int
    agent_name: str
    description: str = "A LiveKit voice agent."
    inbound: bool = True
    language: str = "en"
    project: int = 1
    agent_version: str = "v1"


class PersonalitySpec(_Strict):
    id: int
    name: str


class TestProfileSpec(_Strict):
    __test__ = False  # not a pytest test class, whatever its name says

    id: int
    name: str
    information: dict[str, Any] = Field(default_factory=dict)


class ScenarioSpec(_Strict):
    id: int
    name: str
    agent: int
    tags: list[str] = Field(default_factory=list)
    #: Dot-separated, as Cekura's folders are: `Booking.Inbound` is a subfolder of `Booking`.
    folder_path: str | None = None
    instructions: str = "Call the agent and follow the scenario."
    expected_outcome_prompt: str = "The agent handles the request correctly."
    #: The personality its runs use unless the request overrides it (default: the world's first).
    personality: int | None = None
    #: How runs turn out, repetition after repetition: one word, `flaky` (pass, fail, …) or a list
    #: that is cycled (e.g. [pass, pass, fail]). `error`: never connected; `timeout`: the call ran
    #: past its limit.
    outcome: Outcomes = Field(default_factory=lambda: ["pass"])
    #: The same, for runs with a given personality or test profile override (by id).
    by_personality: dict[int, Outcomes] = Field(default_factory=dict)
    by_profile: dict[int, Outcomes] = Field(default_factory=dict)
    duration: float = Field(90.0, gt=0)
    failing_metric: str = "Task completed"
    #: Cekura's legacy binary types (`binary_workflow_adherence`, `binary_qualitative`) work too.
    metric_type: str = "binary"
    failure_explanation: str = "The agent did not complete the caller's request."
    error_message: str = "Could not connect to the LiveKit room: participant never joined."

    def outcome_of(self, repetition: int) -> RunOutcome:
        return outcome_at(self.outcome, repetition)


class PastResultSpec(_Strict):
    """A result that already exists when the stand-in starts (an earlier run, e.g. on main)."""

    id: int | None = None
    name: str
    agent: int
    #: How long before the stand-in started it was created, e.g. `1d`, `3d 4h`, `20m`.
    age: Age
    #: A terminal status shows every run finished; any other status, runs still in calls.
    status: ResultStatus = "completed"
    frequency: int = Field(1, ge=1, le=100)
    #: Which scenarios it ran (default: every scenario of its agent).
    scenarios: list[int] | None = None
    #: Per scenario id, how its runs turned out then (default: as the scenario says).
    outcomes: dict[int, Outcomes] = Field(default_factory=dict)


class FaultSpec(_Strict):
    endpoint: Endpoint
    #: Which requests to that endpoint get the fault (1-based, counted per endpoint among those
    #: that carry a valid key); empty: all.
    at: list[int] = Field(default_factory=list)
    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    delay: float = 5.0

    def applies(self, endpoint: str, count: int) -> bool:
        return self.endpoint in (endpoint, "any") and (not self.at or count in self.at)


class Timing(_Strict):
    """Emulated seconds each phase of a result takes (0 skips the phase)."""

    pending: float = Field(0.0, ge=0)
    in_queue: float = Field(5.0, ge=0)
    scaling_up: float = Field(10.0, ge=0)
    in_progress: float = Field(0.0, ge=0)
    evaluating: float = Field(20.0, ge=0)
    #: A result not finished this long after it was created ends `timeout`, its open runs too.
    result_timeout: float | None = Field(None, gt=0)


def _default_personalities() -> list[PersonalitySpec]:
    return [PersonalitySpec(id=1, name="Normal Female")]


class World(_Strict):
    api_key: str = "demo-key-not-a-secret"
    #: Emulated seconds per real second: 60 makes a run's minute pass in one second.
    speed: float = Field(1.0, gt=0)
    concurrency: int = Field(10, ge=1)
    timing: Timing = Field(default_factory=Timing)
    agents: list[AgentSpec] = Field(default_factory=list)
    personalities: list[PersonalitySpec] = Field(
        default_factory=_default_personalities, min_length=1
    )
    test_profiles: list[TestProfileSpec] = Field(default_factory=list)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    past_results: list[PastResultSpec] = Field(default_factory=list)
    #: How result counts are typed: numbers, as the document's examples show them, or strings,
    #: as its schema types them.
    counts: Literal["number", "string"] = "number"
    #: The results list's order, which Cekura does not promise: newest first, oldest first, or
    #: shuffled (stable for a given `seed`), so that clients cannot come to rely on it.
    results_order: Literal["newest", "oldest", "shuffled"] = "newest"
    seed: int = 0
    #: How the results list's `search` matches names: one case-insensitive substring, or (like
    #: DRF's SearchFilter) every whitespace-separated term somewhere in the name.
    search: Literal["substring", "terms"] = "substring"
    page_size: int = Field(10, ge=1)
    max_page_size: int = Field(100, ge=1)
    #: Credits a call costs, plus credits per minute of its scenario's duration.
    price_per_call: float = Field(0.0, ge=0)
    price_per_minute: float = Field(1.0, ge=0)
    #: Credits the organization starts with; runs the stand-in starts spend them.
    credits: float = Field(5000.0, ge=0)
    #: Endpoints that answer 403, as they do for a project-scoped key (billing, export, run_json).
    forbidden: list[Endpoint] = Field(default_factory=list)
    faults: list[FaultSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> World:
        scenario_ids = {s.id for s in self.scenarios}
        agent_ids = {a.id for a in self.agents}
        for past in self.past_results:
            if agent_ids and past.agent not in agent_ids:
                raise ValueError(f"past result {past.name!r}: no agent {past.agent}")
            unknown = set(past.scenarios or []) | set(past.outcomes)
            if unknown - scenario_ids:
                raise ValueError(
                    f"past result {past.name!r}: no scenario {sorted(unknown - scenario_ids)}"
                )
        return self

    def scenario(self, scenario_id: int) -> ScenarioSpec | None:
        return next((s for s in self.scenarios if s.id == scenario_id), None)

    def agent(self, agent_id: int) -> AgentSpec | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def personality(self, personality_id: int) -> PersonalitySpec | None:
        return next((p for p in self.personalities if p.id == personality_id), None)

    def test_profile(self, profile_id: int) -> TestProfileSpec | None:
        return next((p for p in self.test_profiles if p.id == profile_id), None)

    def default_personality(self, spec: ScenarioSpec) -> PersonalitySpec:
        chosen = self.personality(spec.personality) if spec.personality is not None else None
        return chosen or self.personalities[0]

    def metric_ids(self) -> dict[str, int]:
        """Every metric of the world by name, with a stable id (the latency metric first)."""
        names = [LATENCY_METRIC, *(s.failing_metric for s in self.scenarios)]
        return {name: 7000 + i for i, name in enumerate(dict.fromkeys(names))}

    def cost_of(self, spec: ScenarioSpec | None) -> float:
        """Credits one call of a scenario costs (an unknown one is priced at 90 seconds)."""
        minutes = (spec.duration if spec else 90.0) / 60
        return self.price_per_call + self.price_per_minute * minutes


LATENCY_METRIC = "Average latency (ms)"


class WorldError(ValueError):
    """A world file that cannot be served; the message names the file and what is wrong."""


def load_world(path: str | Path) -> World:
    """The world a file declares; WorldError (one readable message) when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise WorldError(f"cannot read the world file {path}: {why}") from None
    try:
        if str(path).endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:  # pragma: no cover - depends on the environment
                raise SystemExit("YAML world files need PyYAML: pip install pyyaml") from None
            try:
                data: Any = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise WorldError(
                    f"{path} is not valid YAML: {' '.join(str(exc).split())}"
                ) from None
        else:
            data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, WorldError):
            raise
        raise WorldError(f"{path} is not valid JSON: {exc}") from None
    try:
        return World.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, error['loc'])) or 'the file'}: {error['msg']}"
            for error in exc.errors()[:10]
        ]
        more = f" (and {exc.error_count() - 10} more)" if exc.error_count() > 10 else ""
        raise WorldError(f"{path} is not a world: {'; '.join(problems)}{more}") from None


def demo_world() -> World:
    text = resources.files(__package__).joinpath("demo-world.json").read_text(encoding="utf-8")
    return World.model_validate_json(text)
