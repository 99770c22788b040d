"""The world file: agents, scenarios and how their runs turn out, timings, and faults to inject."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RunOutcome = Literal["pass", "fail", "error"]
Endpoint = Literal[
    "trigger",
    "result",
    "results",
    "end_calls",
    "share_link",
    "scenarios",
    "scenario",
    "agent",
    "any",
]
FaultKind = Literal["status", "html", "truncated", "drop", "drop_after", "slow"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentSpec(_Strict):
    id: int
    agent_name: str
    description: str = "A LiveKit voice agent."
    inbound: bool = True
    language: str = "en"


class ScenarioSpec(_Strict):
    id: int
    name: str
    agent: int
    tags: list[str] = Field(default_factory=list)
    folder_path: str | None = None
    instructions: str = "Call the agent and follow the scenario."
    expected_outcome_prompt: str = "The agent handles the request correctly."
    #: How runs turn out, repetition after repetition: one word, `flaky` (pass, fail, …) or a list
    #: that is cycled (e.g. [pass, pass, fail]).
    outcome: list[RunOutcome] = Field(default_factory=lambda: ["pass"])
    duration: float = 90.0
    failing_metric: str = "Task completed"
    failure_explanation: str = "The agent did not complete the caller's request."
    error_message: str = "Could not connect to the LiveKit room: participant never joined."

    @field_validator("outcome", mode="before")
    @classmethod
    def _pattern(cls, value: object) -> object:
        if value == "flaky":
            return ["pass", "fail"]
        return [value] if isinstance(value, str) else value

    def outcome_of(self, repetition: int) -> RunOutcome:
        return self.outcome[(repetition - 1) % len(self.outcome)]


class FaultSpec(_Strict):
    endpoint: Endpoint
    #: Which requests to that endpoint (1-based, counted per endpoint) get the fault; empty: all.
    at: list[int] = Field(default_factory=list)
    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    delay: float = 5.0

    def applies(self, endpoint: str, count: int) -> bool:
        return self.endpoint in (endpoint, "any") and (not self.at or count in self.at)


class Timing(_Strict):
    """Emulated seconds each phase of a result takes."""

    in_queue: float = 5.0
    scaling_up: float = 10.0
    evaluating: float = 20.0


class World(_Strict):
    api_key: str = "demo-key-not-a-secret"
    #: Emulated seconds per real second: 60 makes a run's minute pass in one second.
    speed: float = Field(1.0, gt=0)
    concurrency: int = Field(10, ge=1)
    timing: Timing = Field(default_factory=Timing)
    agents: list[AgentSpec] = Field(default_factory=list)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    faults: list[FaultSpec] = Field(default_factory=list)

    def scenario(self, scenario_id: int) -> ScenarioSpec | None:
        return next((s for s in self.scenarios if s.id == scenario_id), None)

    def agent(self, agent_id: int) -> AgentSpec | None:
        return next((a for a in self.agents if a.id == agent_id), None)


def load_world(path: str | Path) -> World:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:  # pragma: no cover - depends on the environment
            raise SystemExit(
                "YAML world files need PyYAML: pip install 'cekura-ci[yaml]'"
            ) from None
        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    return World.model_validate(data)


def demo_world() -> World:
    text = (
        resources.files("cekura_ci.emulator")
        .joinpath("demo-world.json")
        .read_text(encoding="utf-8")
    )
    return World.model_validate_json(text)
