"""Pydantic models of what Cekura answers, tolerant of its quirks.

The OpenAPI document types counts as strings, `runs` as an object keyed by run-id strings in the
detail (an array elsewhere), and id lists as strings. We accept all of those shapes, keep unknown
statuses as they are, and ignore fields we do not use, so a new Cekura field never breaks a gate.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from cekura_ci.text import encodable

TERMINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})


def _lenient_int(value: Any) -> int | None:
    """12, "12", "12.0" → 12; anything else (None, "", "n/a") → None rather than a refusal."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


def _lenient_bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


def _lenient_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _lenient_text(value: Any) -> str | None:
    """Text as given, a list as lines; never a lone surrogate, which no file or stream can take."""
    if value is None:
        return None
    if isinstance(value, list):
        return encodable("\n".join(str(v) for v in value))
    return encodable(str(value))


def _id_list(value: Any) -> list[int] | None:
    """A list of run ids, given as a list, a JSON string of a list, or null."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if not isinstance(value, list):
        return None
    return [n for n in (_lenient_int(v) for v in value) if n is not None]


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return encodable(value).splitlines()
    if isinstance(value, list):
        return [encodable(str(v)) for v in value]
    return [encodable(str(value))]


def _objects(value: Any) -> list[Any]:
    """A list of JSON objects: anything that is not an object is left out, a non-list is empty."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _status(value: Any) -> str:
    """Lower-case, one line, short: a status is shown in progress lines and tables."""
    return encodable(" ".join(str(value or "").split()).lower()[:40]) or "unknown"


Count = Annotated[int | None, BeforeValidator(_lenient_int)]
OptionalBool = Annotated[bool | None, BeforeValidator(_lenient_bool)]
OptionalFloat = Annotated[float | None, BeforeValidator(_lenient_float)]
Text = Annotated[str | None, BeforeValidator(_lenient_text)]
IdList = Annotated[list[int] | None, BeforeValidator(_id_list)]
Lines = Annotated[list[str], BeforeValidator(_lines)]
Status = Annotated[str, BeforeValidator(_status)]
ObjectList = BeforeValidator(_objects)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Metric(_Tolerant):
    id: Count = None
    name: Text = None
    type: Text = None
    score: OptionalFloat = None
    value: Text = None
    explanation: Lines = Field(default_factory=list)


class ExpectedOutcome(_Tolerant):
    score: OptionalFloat = None
    explanation: Lines = Field(default_factory=list)


class Evaluation(_Tolerant):
    metrics: Annotated[list[Metric], ObjectList] = Field(default_factory=list)


class TranscriptTurn(_Tolerant):
    role: Text = None
    content: Text = None
    timestamp: OptionalFloat = None


class Run(_Tolerant):
    id: int
    scenario: Count = None
    scenario_name: Text = None
    status: Status = "unknown"
    success: OptionalBool = None
    error_message: Text = None
    duration: Text = None
    personality: Count = None
    personality_name: Text = None
    test_profile_data: dict[str, Any] | None = None
    expected_outcome: ExpectedOutcome | None = None
    evaluation: Evaluation | None = None
    transcript: Text = None
    transcript_object: Annotated[list[TranscriptTurn], ObjectList] = Field(default_factory=list)

    @field_validator("expected_outcome", "evaluation", "test_profile_data", mode="before")
    @classmethod
    def _object_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @property
    def test_profile_name(self) -> str | None:
        data = self.test_profile_data or {}
        name = data.get("name")
        return str(name) if name is not None else None

    @property
    def passed(self) -> bool:
        """The one definition of a passing run: completed, and Cekura judged it a success."""
        return self.status == "completed" and self.success is True

    @property
    def has_conversation(self) -> bool:
        return bool((self.transcript or "").strip() or self.transcript_object)


def _runs(value: Any) -> list[Any]:
    """`runs` as the detail gives it ({"12": {...}}) or as a list; ids filled from keys if missing."""
    if isinstance(value, dict):
        candidates = [{"id": key, **run} for key, run in value.items() if isinstance(run, dict)]
    elif isinstance(value, list):
        candidates = [run for run in value if isinstance(run, dict)]
    else:
        return []
    # A run we cannot identify cannot be reported on; leave it out rather than refuse the result.
    return [
        {**run, "id": _lenient_int(run.get("id"))}
        for run in candidates
        if _lenient_int(run.get("id"))
    ]


class Result(_Tolerant):
    """A result: GET /results/{id}/ (detail) or one row of the results list."""

    id: int
    name: Text = None
    agent: Count = None
    status: Status = "unknown"
    runs: Annotated[list[Run], BeforeValidator(_runs)] = Field(default_factory=list)
    total_runs_count: Count = None
    success_runs_count: Count = None
    failed_runs_count: Count = None
    not_connected_runs: IdList = None
    failed_infrastructure_runs: IdList = None
    total_duration: Text = None
    created_at: Text = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def progress(self) -> tuple[int, int, int, int]:
        """(total, done, passed, failed) counted from the runs themselves."""
        total = max(len(self.runs), self.total_runs_count or 0)
        done = [r for r in self.runs if r.status in TERMINAL_STATUSES]
        passed = sum(1 for r in done if r.passed)
        return total, len(done), passed, len(done) - passed


class ResultPage(_Tolerant):
    """GET /results/: a page of results."""

    count: Count = None
    next: Text = None
    results: Annotated[list[Result], ObjectList] = Field(default_factory=list)


class ShareLink(_Tolerant):
    token: str
    shareable_link: str
