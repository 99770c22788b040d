"""Request validation: bodies and query parameters read the way Django REST framework reads them.

Each field type accepts what DRF's own accepts (`"42"` for an integer, `4.0` too, not `4.5` or
`true`) and refuses with DRF's words and shapes: `{field: [messages]}`, a dict per item of a nested
list (`{"scenarios": [{}, {"scenario": [...]}]}`, the shape before DRF 3.18), a dict keyed by index
for a list of plain values, `{"non_field_errors": [...]}` for a body that is not an object.
Query parameters follow django-filter: a value it cannot read is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .world import World

Detail = Any  # list[str] | dict[str, Detail] | list[Detail]


class Invalid(Exception):
    """A value DRF would refuse; `detail` is what it would answer for that field."""

    def __init__(self, detail: Detail) -> None:
        super().__init__(detail)
        self.detail = detail


MISSING: Any = object()
REQUIRED = "This field is required."
NULL = "This field may not be null."
_DECIMAL_TAIL = re.compile(r"\.0*\s*$")  # DRF's IntegerField reads "4.0" and 4.0 as 4
DATETIME_FORMATS = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"


def _kind(value: Any) -> str:
    return type(value).__name__


def integer(value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """DRF IntegerField."""
    if isinstance(value, str) and len(value) > 1000:
        raise Invalid(["String value too large."])
    try:
        number = int(_DECIMAL_TAIL.sub("", str(value)))
    except (TypeError, ValueError):
        raise Invalid(["A valid integer is required."]) from None
    if min_value is not None and number < min_value:
        raise Invalid([f"Ensure this value is greater than or equal to {min_value}."])
    if max_value is not None and number > max_value:
        raise Invalid([f"Ensure this value is less than or equal to {max_value}."])
    return number


def primary_key(value: Any, exists: Callable[[int], bool]) -> int:
    """DRF PrimaryKeyRelatedField: an id (or its text) of an object that exists."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid([f"Incorrect type. Expected pk value, received {_kind(value)}."])
    try:
        key = int(value)
    except ValueError:
        raise Invalid([f"Incorrect type. Expected pk value, received {_kind(value)}."]) from None
    if not exists(key):
        raise Invalid([f'Invalid pk "{value}" - object does not exist.'])
    return key


def many_primary_keys(value: Any, exists: Callable[[int], bool]) -> list[int]:
    """DRF ManyRelatedField: the first bad item's message, not one per item."""
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise Invalid([f'Expected a list of items but got type "{_kind(value)}".'])
    return [primary_key(item, exists) for item in value]


def text(value: Any, *, max_length: int | None = None, allow_blank: bool = False) -> str:
    """DRF CharField: numbers are taken as their text, surrounding spaces are trimmed."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Invalid(["Not a valid string."])
    result = str(value).strip()
    if not result and not allow_blank:
        raise Invalid(["This field may not be blank."])
    if max_length is not None and len(result) > max_length:
        raise Invalid([f"Ensure this field has no more than {max_length} characters."])
    return result


def list_of(value: Any, child: Callable[[Any], Any]) -> list[Any]:
    """DRF ListField: errors keyed by the index of each bad item."""
    if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
        raise Invalid([f'Expected a list of items but got type "{_kind(value)}".'])
    result, errors = [], {}
    for index, item in enumerate(value):
        try:
            result.append(child(item))
        except Invalid as exc:
            errors[str(index)] = exc.detail
    if errors:
        raise Invalid(errors)
    return result


def choice(value: Any, choices: tuple[str, ...]) -> str:
    """DRF ChoiceField."""
    if str(value) not in choices:
        raise Invalid([f'"{value}" is not a valid choice.'])
    return str(value)


def date_time(value: Any) -> dt.datetime:
    """DRF DateTimeField with its default ISO 8601 input."""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            [f"Datetime has wrong format. Use one of these formats instead: {DATETIME_FORMATS}."]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Field:
    """One field of a serializer: how to read it, whether it must be there, whether null is ok."""

    read: Callable[[Any], Any]
    required: bool = False
    allow_null: bool = False
    default: Any = None


def serializer(data: Any, fields: dict[str, Field]) -> dict[str, Any]:
    """DRF Serializer.to_internal_value: every field checked, every problem reported at once."""
    if not isinstance(data, Mapping):
        raise Invalid(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {_kind(data)}."]}
        )
    values, errors = {}, {}
    for name, spec in fields.items():
        raw = data.get(name, MISSING)
        if raw is MISSING:
            if spec.required:
                errors[name] = [REQUIRED]
            else:
                values[name] = spec.default
            continue
        if raw is None:
            if spec.allow_null:
                values[name] = None
            else:
                errors[name] = [NULL]
            continue
        try:
            values[name] = spec.read(raw)
        except Invalid as exc:
            errors[name] = exc.detail
    if errors:
        raise Invalid(errors)
    return values


def many(value: Any, child: Callable[[Any], Any], *, allow_empty: bool = True) -> list[Any]:
    """DRF ListSerializer (`many=True`): one dict per item, `{}` for the items that were fine."""
    if not isinstance(value, list):
        raise Invalid(
            {"non_field_errors": [f'Expected a list of items but got type "{_kind(value)}".']}
        )
    if not value and not allow_empty:
        raise Invalid({"non_field_errors": ["This list may not be empty."]})
    result, errors = [], []
    for item in value:
        try:
            result.append(child(item))
            errors.append({})
        except Invalid as exc:
            errors.append(exc.detail)
    if any(errors):
        raise Invalid(errors)
    return result


# --- request bodies --------------------------------------------------------------------------


@dataclass(frozen=True)
class LivekitRun:
    """A valid RunLivekitScenarios body."""

    scenarios: list[int]
    publish_data_messages: list[Any]
    agent: int | None
    name: str | None
    frequency: int
    personality_ids: list[int] | None
    test_profile_ids: list[int] | None
    concurrency_limit: int | None
    settings: dict[str, Any]


def livekit_run(body: Any, world: World) -> LivekitRun:
    """POST …/run_scenarios_livekit_v2/: RunLivekitScenarios as the document declares it."""

    def scenario_item(item: Any) -> dict[str, Any]:
        return serializer(
            item,
            {
                "scenario": Field(
                    lambda v: primary_key(v, lambda k: world.scenario(k) is not None),
                    required=True,
                ),
                "publish_data_message": Field(lambda v: v, allow_null=True),
            },
        )

    def personalities(value: Any) -> list[int]:
        return many_primary_keys(value, lambda k: world.personality(k) is not None)

    def profiles(value: Any) -> list[int]:
        return many_primary_keys(value, lambda k: world.test_profile(k) is not None)

    livekit_data = {
        "config": Field(lambda v: v, allow_null=True),
        "agent_name": Field(lambda v: text(v, allow_blank=True), allow_null=True),
        "url": Field(lambda v: text(v, allow_blank=True), allow_null=True),
    }
    values = serializer(
        body,
        {
            "name": Field(lambda v: text(v, max_length=255), allow_null=True),
            "frequency": Field(lambda v: integer(v, min_value=1, max_value=100), default=1),
            "scenarios": Field(lambda v: many(v, scenario_item, allow_empty=False), required=True),
            "agent": Field(
                lambda v: primary_key(v, lambda k: world.agent(k) is not None), allow_null=True
            ),
            "personality_ids": Field(personalities, allow_null=True),
            "test_profile_ids": Field(profiles, allow_null=True),
            "mock_tool_names": Field(lambda v: list_of(v, text), allow_null=True),
            "livekit_data": Field(lambda v: _drop_unset(serializer(v, livekit_data), v)),
            "concurrency_limit": Field(lambda v: integer(v, min_value=1), allow_null=True),
            "personality_id": Field(
                lambda v: primary_key(v, lambda k: world.personality(k) is not None),
                allow_null=True,
            ),
            "test_profile_id": Field(
                lambda v: primary_key(v, lambda k: world.test_profile(k) is not None),
                allow_null=True,
            ),
        },
    )
    personality_ids = values["personality_ids"] or (
        [values["personality_id"]] if values["personality_id"] is not None else None
    )
    profile_ids = values["test_profile_ids"] or (
        [values["test_profile_id"]] if values["test_profile_id"] is not None else None
    )
    settings = {
        key: values[key]
        for key in ("concurrency_limit", "mock_tool_names", "livekit_data")
        if values[key] is not None
    }
    if personality_ids:
        settings["personality_ids"] = personality_ids
    if profile_ids:
        settings["test_profile_ids"] = profile_ids
    return LivekitRun(
        scenarios=[item["scenario"] for item in values["scenarios"]],
        publish_data_messages=[item["publish_data_message"] for item in values["scenarios"]],
        agent=values["agent"],
        name=values["name"],
        frequency=values["frequency"],
        personality_ids=personality_ids,
        test_profile_ids=profile_ids,
        concurrency_limit=values["concurrency_limit"],
        settings=settings,
    )


def _drop_unset(values: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key in given}


def share_link(body: Any) -> dt.datetime | None:
    """POST …/create_shareable_link_token/: an optional `expire_at`."""
    values = serializer(
        {} if body is None else body, {"expire_at": Field(date_time, allow_null=True)}
    )
    return values["expire_at"]


CHANNELS = ("voice", "text", "elevenlabs", "livekit_v2", "pipecat_v2")


@dataclass(frozen=True)
class SpecScenario:
    name: str
    instructions: str
    expected_outcome: str
    metrics: list[str]
    personality: int | None


@dataclass(frozen=True)
class JsonSpecRun:
    """A valid TestSuiteSpecUpload body."""

    agent: int
    channel: str
    name: str | None
    scenarios: list[SpecScenario]
    frequency: int
    personality_ids: list[int] | None
    test_profile_ids: list[int] | None
    settings: dict[str, Any]


def json_spec_run(body: Any, world: World) -> JsonSpecRun:
    """POST …/run_scenarios_json/: the request's fields, then every problem of the spec at once,
    keyed by its place in the file (`scenarios[3].metrics[1]`)."""
    values = serializer(
        body,
        {
            "spec": Field(lambda v: v),
            "file": Field(lambda v: text(v)),
            "agent_id": Field(
                lambda v: primary_key(v, lambda k: world.agent(k) is not None), required=True
            ),
            "name": Field(lambda v: text(v, max_length=255), allow_null=True),
            "channel": Field(lambda v: choice(v, CHANNELS), default="voice"),
            "livekit_data": Field(lambda v: _mapping(v)),
            "pipecat_data": Field(lambda v: _mapping(v)),
            # Not in the spec upload's schema; read like the LiveKit run's, as the SDK forwards
            # whatever it is given.
            "frequency": Field(lambda v: integer(v, min_value=1, max_value=100), default=1),
            "personality_ids": Field(
                lambda v: many_primary_keys(v, lambda k: world.personality(k) is not None),
                allow_null=True,
            ),
            "test_profile_ids": Field(
                lambda v: many_primary_keys(v, lambda k: world.test_profile(k) is not None),
                allow_null=True,
            ),
        },
    )
    if values["spec"] is None:
        if values["file"] is not None:
            raise Invalid({"file": ["The stand-in reads specs posted as JSON in 'spec' only."]})
        raise Invalid({"spec": [REQUIRED]})
    metrics = set(world.metric_ids())
    scenarios, errors = _spec(values["spec"], metrics, world)
    if errors:
        raise Invalid(errors)
    settings = {k: values[k] for k in ("livekit_data", "pipecat_data") if values[k] is not None}
    return JsonSpecRun(
        agent=values["agent_id"],
        channel=values["channel"],
        name=values["name"]
        or (values["spec"].get("name") if isinstance(values["spec"], dict) else None),
        scenarios=scenarios,
        frequency=values["frequency"],
        personality_ids=values["personality_ids"],
        test_profile_ids=values["test_profile_ids"],
        settings=settings,
    )


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Invalid([f'Expected a dictionary of items but got type "{_kind(value)}".'])
    return dict(value)


def _spec(spec: Any, metrics: set[str], world: World) -> tuple[list[SpecScenario], dict[str, Any]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(spec, Mapping):
        return [], {"spec": [f"Invalid data. Expected a dictionary, but got {_kind(spec)}."]}
    if str(spec.get("version", "")) != "1":
        errors["version"] = ['Unsupported spec version; expected "1".']
    items = spec.get("scenarios")
    if not isinstance(items, list) or not items:
        errors["scenarios"] = ["A spec needs a non-empty list of scenarios."]
        return [], errors
    scenarios = []
    for i, item in enumerate(items):
        where = f"scenarios[{i}]"
        if not isinstance(item, Mapping):
            errors[where] = [f"Invalid data. Expected a dictionary, but got {_kind(item)}."]
            continue
        fields: dict[str, Any] = {}
        for key in ("name", "instructions"):
            try:
                fields[key] = text(item.get(key, ""))
            except Invalid as exc:
                errors[f"{where}.{key}"] = [REQUIRED] if key not in item else exc.detail
        names = item.get("metrics", [])
        if not isinstance(names, list):
            errors[f"{where}.metrics"] = ['Expected a list of items but got type "str".']
            names = []
        for j, metric in enumerate(names):
            if metric not in metrics:
                errors[f"{where}.metrics[{j}]"] = [
                    f"Metric {metric!r} does not exist or is not enabled for this agent."
                ]
        personality = item.get("personality")
        if personality is not None:
            try:
                personality = primary_key(personality, lambda k: world.personality(k) is not None)
            except Invalid as exc:
                errors[f"{where}.personality"] = exc.detail
        if f"{where}.name" not in errors and f"{where}.instructions" not in errors:
            scenarios.append(
                SpecScenario(
                    name=fields["name"],
                    instructions=fields["instructions"],
                    expected_outcome=str(item.get("expected_outcome") or ""),
                    metrics=[str(m) for m in names],
                    personality=personality if isinstance(personality, int) else None,
                )
            )
    return scenarios, errors


# --- query parameters ------------------------------------------------------------------------


def first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None  # Django's QueryDict.get: the last value


def number_param(query: Mapping[str, list[str]], name: str) -> int | None:
    """django-filter NumberFilter: absent or empty means no filter."""
    value = first(query, name)
    if value in (None, ""):
        return None
    try:
        return int(_DECIMAL_TAIL.sub("", value.strip()))
    except ValueError:
        raise Invalid({name: ["Enter a number."]}) from None


def numbers_param(query: Mapping[str, list[str]], name: str) -> list[int] | None:
    """A comma-separated list of ids (`1,2,3`)."""
    value = first(query, name)
    if value in (None, ""):
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise Invalid({name: ["Enter a comma-separated list of whole numbers."]}) from None


def choice_param(query: Mapping[str, list[str]], name: str, choices: tuple[str, ...]) -> str | None:
    value = first(query, name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise Invalid(
            {name: [f"Select a valid choice. {value} is not one of the available choices."]}
        )
    return value


def bool_param(query: Mapping[str, list[str]], name: str) -> bool | None:
    """django-filter BooleanFilter: what it cannot read is no filter."""
    value = (first(query, name) or "").strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(value)


def datetime_param(query: Mapping[str, list[str]], name: str) -> dt.datetime | None:
    value = first(query, name)
    if value in (None, ""):
        return None
    try:
        return date_time(value)
    except Invalid:
        raise Invalid({name: ["Enter a valid date/time."]}) from None
