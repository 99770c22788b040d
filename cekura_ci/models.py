"""Pydantic models of what Cekura answers: tolerant of its quirks, and only what the gate reads.

The OpenAPI document types counts as strings, `runs` as an object keyed by run-id strings in the
detail (an array elsewhere), and id lists as strings. We accept all of those shapes, keep unknown
statuses as they are, and ignore fields we do not use, so a new Cekura field never breaks a gate.
Numbers are read strictly: a count is a whole number or nothing ("inf", 1e400 and NaN are nothing,
never a crash), a score a finite number or nothing. Text is made safe to encode (a lone surrogate
from a JSON escape becomes U+FFFD), so nothing downstream can fail on writing it.

A result can hold 10,000 runs, so a run keeps only what the verdict reads: one normalizing pass over
the API's object (`Run._from_api`), then pydantic checks the plain values. Runs, metrics and turns
are slotted dataclasses, a tenth of a model's memory each. A run's transcript is reduced at once to
whether there was a conversation and, for a run that did not pass, its last turns.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from cekura_ci.text import encodable

TERMINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})
#: The turns kept from the end of a call that did not pass: what a reader needs to see why.
TRANSCRIPT_TAIL_TURNS = 6

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_NOT_A_STATUS_CHARACTER = re.compile(r"[^a-z0-9_]+")
_INTERN_LIMIT = 200  # names, statuses and types repeat across runs; keep one copy of each
_intern = sys.intern
#: Statuses as Cekura writes them, which need no normalizing.
_STATUSES = TERMINAL_STATUSES | {
    "pending", "in_queue", "scaling_up", "in_progress", "running", "evaluating"
}  # fmt: skip


# --- readers: any JSON value -> the value we keep ----------------------------------------------


def count(value: Any) -> int | None:
    """12, "12", 12.0, "12.0" → 12; anything else ("n/a", 12.5, "inf", 1e400, NaN) → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():  # False for inf and NaN
        return int(value)
    return None


def _number(value: Any) -> float | None:
    """A finite number from a number or its text; anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


def _safe(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (from `\\ud800`-style escapes) become U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return encodable(text)
    return text


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value if value.isascii() else _safe(value)
    if value is None:
        return None
    if isinstance(value, list):
        return _safe("\n".join(str(v) for v in value))
    return _safe(value if isinstance(value, str) else str(value))


def _label(value: Any) -> str | None:
    """Short text that repeats across runs (names, types): one shared copy of each."""
    text = _text(value)
    return _intern(text) if text is not None and len(text) <= _INTERN_LIMIT else text


def _lines(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(_safe(value).splitlines())
    if isinstance(value, list):
        return tuple([v if type(v) is str and v.isascii() else _safe(str(v)) for v in value])
    return (_safe(str(value)),)


def _status(value: Any) -> str:
    """One lower-case word of letters, digits and `_`, at most 40 characters: a status is shown in
    progress lines and tables, and becomes the `status` output, which a later step may
    interpolate into a script. Anything else in it becomes `_`; an empty one is `unknown`."""
    if type(value) is str and value in _STATUSES:
        return value
    word = _NOT_A_STATUS_CHARACTER.sub("_", str(value or "").strip().lower()).strip("_")
    return _intern(word[:40]) if word else "unknown"


def _id_list(value: Any) -> list[int] | None:
    """A list of run ids, given as a list, a JSON string of a list, or null."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    if not isinstance(value, list):
        return None
    return [n for n in (count(v) for v in value) if n is not None]


def objects(value: Any) -> list[dict[str, Any]]:
    """A list of JSON objects: anything that is not an object is left out, a non-list is empty."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


Count = Annotated[int | None, BeforeValidator(count)]
Text = Annotated[str | None, BeforeValidator(_text)]
IdList = Annotated[list[int] | None, BeforeValidator(_id_list)]
Status = Annotated[str, BeforeValidator(_status)]
ObjectList = BeforeValidator(objects)


# --- one run: slotted records -------------------------------------------------------------------


def passes(status: str, success: bool | None) -> bool:
    """The one definition of a passing run: completed, and Cekura judged it a success."""
    return status == "completed" and success is True


@dataclass(frozen=True, slots=True)
class Metric:
    id: int | None = None
    name: str | None = None
    type: str | None = None
    score: float | None = None
    value: str | None = None
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn of the call: `role` is "?" when Cekura names none, "" for a plain-text line."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    scenario: int | None = None
    scenario_name: str | None = None
    status: str = "unknown"
    success: bool | None = None
    error_message: str | None = None
    duration: str | None = None
    personality_name: str | None = None
    test_profile_name: str | None = None
    #: `expected_outcome.explanation`, one line each ("✅ …" met, "❌ …" not met).
    expected_outcome_lines: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = ()
    has_conversation: bool = False
    #: The last TRANSCRIPT_TAIL_TURNS turns; only for a run that did not pass.
    transcript_tail: tuple[Turn, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_api(cls, data: Any) -> Any:
        """The API's run object → plain values, in one pass; transcripts are reduced here."""
        if not isinstance(data, dict):
            return data
        get = data.get
        scenario, scenario_name = get("scenario"), get("scenario_name")
        if isinstance(scenario, dict):  # {"id": …, "name": …}, as some answers give it
            if not (isinstance(scenario_name, str) and scenario_name.strip()):
                scenario_name = scenario.get("name")
            scenario = scenario.get("id")
        status, success = _status(get("status")), _bool(get("success"))
        turns = get("transcript_object")
        if not isinstance(turns, list) or not any(isinstance(t, dict) for t in turns):
            turns = None
        profile = get("test_profile_data")
        evaluation, outcome = get("evaluation"), get("expected_outcome")
        metrics = evaluation.get("metrics") if isinstance(evaluation, dict) else None
        return {
            "id": get("id"),
            "scenario": count(scenario),
            "scenario_name": _label(scenario_name),
            "status": status,
            "success": success,
            "error_message": _text(get("error_message")),
            "duration": _label(get("duration")),
            "personality_name": _label(get("personality_name")),
            "test_profile_name": _label(profile.get("name")) if isinstance(profile, dict) else None,
            "expected_outcome_lines": _lines(outcome.get("explanation"))
            if isinstance(outcome, dict)
            else (),
            "metrics": [_metric(m) for m in metrics if isinstance(m, dict)]
            if isinstance(metrics, list)
            else (),
            "has_conversation": turns is not None or _said_anything(get("transcript")),
            "transcript_tail": ()
            if passes(status, success)
            else _tail(turns, _text(get("transcript")) or ""),
        }

    @property
    def passed(self) -> bool:
        return passes(self.status, self.success)


def _said_anything(transcript: Any) -> bool:
    """Whether a text transcript holds a word: asked of every run, so it reads without copying."""
    if isinstance(transcript, list):
        return any(str(line).strip() for line in transcript)
    return transcript is not None and not str(transcript).isspace() and str(transcript) != ""


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    get = metric.get
    return {
        "id": count(get("id")),
        "name": _label(get("name")),
        "type": _label(get("type")),
        "score": _number(get("score")),
        "value": _text(get("value")),
        "explanation": _lines(get("explanation")),
    }


def _tail(turns: list[Any] | None, transcript: str) -> list[dict[str, str]]:
    if turns is not None:
        objects = [t for t in turns if isinstance(t, dict)]
        return [
            {"role": _label(t.get("role")) or "?", "content": _text(t.get("content")) or ""}
            for t in objects[-TRANSCRIPT_TAIL_TURNS:]
        ]
    lines = [line for line in transcript.splitlines() if line.strip()]
    return [{"role": "", "content": line} for line in lines[-TRANSCRIPT_TAIL_TURNS:]]


_validate_run = Run.__pydantic_validator__.validate_python  # type: ignore[attr-defined]


def run_from_api(key: str | None, data: Any) -> Run | None:
    """One run of `runs` (keyed by its id in the detail, in a list elsewhere), or None when it has no
    id to report it by. Decoding hands each run here as soon as it is read (see jsonstream)."""
    if isinstance(data, Run):
        return data
    if not isinstance(data, dict):
        return None
    given = data.get("id", key)
    run_id = given if type(given) is int else count(given)
    if not run_id:
        return None
    return _validate_run(
        data if given is data.get("id") and given is run_id else {**data, "id": run_id}
    )


def _runs(value: Any) -> list[Run]:
    """`runs` as the detail gives it ({"12": {...}}) or as a list, or already read."""
    if isinstance(value, dict):
        found = (run_from_api(key, run) for key, run in value.items())
    elif isinstance(value, list):
        found = (run_from_api(None, run) for run in value)
    else:
        return []
    return [run for run in found if run is not None]


# --- results ----------------------------------------------------------------------------------


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Result(Tolerant):
    """A result: GET /results/{id}/ (detail) or one row of the results list."""

    id: int
    name: Text = None
    agent: Count = None
    status: Status = "unknown"
    runs: Annotated[list[Run], BeforeValidator(_runs)] = Field(default_factory=list)
    total_runs_count: Count = None
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


class ResultPage(Tolerant):
    """GET /results/: a page of results."""

    count: Count = None
    next: Text = None
    results: Annotated[list[Result], ObjectList] = Field(default_factory=list)


class ShareLink(Tolerant):
    token: str
    shareable_link: str
