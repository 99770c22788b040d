"""Pydantic models of Cekura's catalogue answers: scenarios, agents, billing, the dry-run price.

Tolerant like `models`: extra fields are ignored, ids given as "12" read as 12, and an answer
whose shape we do not know is kept rather than refused (the dry-run price is documented only as
"test cases, total runs and estimated cost").
"""

from __future__ import annotations

import decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, RootModel

from cekura_ci.models import Count, Text, Tolerant, count, objects


def _tags(value: Any) -> list[str]:
    """A list of tags, or the list as comma-separated text; anything else, no tags."""
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    if isinstance(value, list):
        return [str(tag) for tag in value if tag is not None]
    return []


#: Characters of an amount read at most ("12.50"; a credit balance of a trillion fits easily).
MAX_AMOUNT_CHARS = 30


def _amount(value: Any) -> str | None:
    """A number of credits as the decimal text Cekura gives ("12.50"); None if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if len(text) > MAX_AMOUNT_CHARS:  # no price or balance: it would fill the plan and outputs
        return None
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    return text if number.is_finite() and text.isascii() else None


Id = Count
Amount = Annotated[str | None, BeforeValidator(_amount)]


class Scenario(Tolerant):
    """A row of GET /scenarios/ or GET /scenarios/{id}/."""

    id: int
    name: Text = None
    agent: Id = None
    tags: Annotated[list[str], BeforeValidator(_tags)] = Field(default_factory=list)
    folder_path: Text = None


def _identified(value: Any) -> list[Any]:
    """Rows of the list that carry a usable id; one malformed row does not spoil the page."""
    return [row for row in objects(value) if count(row.get("id")) is not None]


class ScenarioPage(Tolerant):
    count: Id = None
    next: Text = None
    results: Annotated[list[Scenario], BeforeValidator(_identified)] = Field(default_factory=list)


class Agent(Tolerant):
    """GET /aiagents/{id}/."""

    id: int
    agent_name: Text = None
    project: Id = None


class BillingInfo(Tolerant):
    """GET /test_framework/billing/info/: only what the dry run shows."""

    credits_remaining: Amount = None


class Spec(RootModel[dict[str, Any]]):
    """A test-suite spec as `export_scenarios?export_type=json` writes it, passed on untouched."""


def _first(data: dict[str, Any], *keys: str) -> Any:
    return next((data[key] for key in keys if data.get(key) is not None), None)


class Estimate(Tolerant):
    """`run_scenarios_json?dry_run=true`: what Cekura says the run would place and cost.

    The document promises only "test cases, total runs and estimated cost"; the fields are read
    from `plan` (the shape the SDK documents) or from the top level, under a few likely names."""

    dry_run: bool | None = None
    total_runs: Id = None
    estimated_cost: Amount = None
    currency: Text = None

    @classmethod
    def from_answer(cls, answer: Any) -> Estimate:
        if not isinstance(answer, dict):
            return cls()
        plan = answer.get("plan") if isinstance(answer.get("plan"), dict) else {}
        merged = {**answer, **plan}
        return cls.model_validate(
            {
                "dry_run": answer.get("dry_run")
                if isinstance(answer.get("dry_run"), bool)
                else None,
                "total_runs": _first(merged, "total_runs", "runs_count", "total_calls"),
                "estimated_cost": _first(merged, "estimated_cost", "estimated_credits", "cost"),
                "currency": _first(merged, "currency", "unit"),
            }
        )


class EstimateAnswer(RootModel[Any]):
    """The raw answer, read by `Estimate.from_answer`."""
