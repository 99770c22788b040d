"""Counting calls, max_runs, reading Cekura's price, and the plan's summary."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from cekura_ci.catalog import Estimate
from cekura_ci.client import CekuraClient, make_session
from cekura_ci.plan import (
    Calls,
    Price,
    TooManyCalls,
    _view,
    check_max_runs,
    count_calls,
    estimate,
)
from cekura_ci.report.plan import MAX_BODY_CHARS, PlanRow, PlanView, code_block, render_plan
from cekura_ci.selection import Chosen, Selection
from cekura_ci.settings import Settings
from tests.helpers import API_KEY

BASE = "https://api.cekura.test"


@pytest.mark.parametrize(
    ("body", "arithmetic"),
    [
        ({"scenarios": [{}], "frequency": 1}, "1 scenario × frequency 1 = 1 call"),
        (
            {"scenarios": [{}] * 3, "frequency": 5, "personality_ids": [1]},
            "3 scenarios × frequency 5 × 1 personality = 15 calls",
        ),
        (
            {"scenarios": [{}] * 2, "frequency": 2, "test_profile_ids": [1, 2, 3]},
            "2 scenarios × frequency 2 × 3 test profiles = 12 calls",
        ),
    ],
)
def test_count_calls_when_overrides_are_given_multiplies_them(
    body: dict[str, Any], arithmetic: str
) -> None:
    """Personalities and test profiles multiply only when overridden, as Cekura places runs."""
    assert count_calls(body).arithmetic() == arithmetic


@pytest.mark.parametrize(
    ("max_runs", "refused"), [(11, True), (12, False), (13, False), (0, False)]
)
def test_max_runs_when_compared_refuses_only_above_and_0_never(
    max_runs: int, refused: bool
) -> None:
    """At the limit runs; one above is refused; 0 never refuses."""
    calls = Calls(scenarios=2, frequency=2, personalities=3)
    if refused:
        with pytest.raises(TooManyCalls, match="= 12 calls, above max_runs 11"):
            check_max_runs(calls, max_runs)
    else:
        check_max_runs(calls, max_runs)


@pytest.mark.parametrize(
    ("answer", "cost", "runs"),
    [
        ({"dry_run": True, "plan": {"total_runs": 4, "estimated_cost": "6.00"}}, "6.00", 4),
        ({"total_runs": "4", "estimated_cost": 6.5}, "6.5", 4),
        ({"plan": {"runs_count": 4, "estimated_credits": "1e1"}}, "1e1", 4),
        ({"plan": {"estimated_cost": "NaN"}}, None, None),
        ({"plan": {"estimated_cost": "six"}}, None, None),
        ({"plan": {"estimated_cost": True}}, None, None),
        (["not", "an", "object"], None, None),
    ],
)
def test_estimate_when_the_answer_has_another_shape_reads_what_it_can(
    answer: Any, cost: str | None, runs: int | None
) -> None:
    """The document promises only "total runs and estimated cost": read it where it is, as text."""
    read = Estimate.from_answer(answer)
    assert (read.estimated_cost, read.total_runs) == (cost, runs)


@pytest.fixture
def client() -> CekuraClient:
    return CekuraClient(BASE, make_session(SecretStr(API_KEY)), timeout=3)


BODY = {"agent": 42, "scenarios": [{"scenario": 101}], "frequency": 2, "name": "gate"}


def price(client: CekuraClient, clock, backoff, **extra: str):
    settings = Settings.from_inputs(
        {"api_key": API_KEY, "agent_id": "42", "scenario_ids": "101", "api_url": BASE, **extra}
    )
    return estimate(BODY, settings, client, clock, backoff)


@responses.activate
def test_estimate_when_cekura_does_not_confirm_a_dry_run_warns_to_look_for_the_result(
    client: CekuraClient, clock, backoff
) -> None:
    """An answer saying `dry_run: false` may mean calls were placed: say where to look."""
    responses.get(BASE + CekuraClient.EXPORT_PATH, json={"version": "1", "scenarios": []})
    responses.post(
        BASE + CekuraClient.ESTIMATE_PATH,
        json={"dry_run": False, "plan": {"estimated_cost": "3.00", "total_runs": 2}},
    )
    responses.get(BASE + CekuraClient.BILLING_PATH, json={"credits_remaining": "10.00"})
    found = price(client, clock, backoff)
    assert found.estimated_cost == "3.00" and found.credits_left == "10.00"
    assert any("says it was not a dry run" in note and "'gate'" in note for note in found.notes)
    sent = json.loads(responses.calls[1].request.body)
    assert sent["agent_id"] == 42 and sent["channel"] == "livekit_v2" and sent["frequency"] == 2
    assert responses.calls[1].request.url.endswith("?dry_run=true")


@responses.activate
def test_estimate_when_the_price_post_fails_after_sending_does_not_send_it_again(
    client: CekuraClient, clock, backoff
) -> None:
    """A 502 may have reached Cekura: "no estimate", and one POST only."""
    responses.get(BASE + CekuraClient.EXPORT_PATH, json={"version": "1", "scenarios": []})
    responses.post(BASE + CekuraClient.ESTIMATE_PATH, status=502)
    responses.get(BASE + CekuraClient.BILLING_PATH, status=404)
    found = price(client, clock, backoff)
    assert found.estimated_cost is None and found.no_estimate == "Cekura answered HTTP 502"
    assert found.credits_left is None and found.no_credits == "Cekura answered HTTP 404"
    assert [c.request.method for c in responses.calls].count("POST") == 1


@responses.activate
def test_estimate_when_the_export_stays_down_gives_up_within_a_minute(
    client: CekuraClient, clock, backoff
) -> None:
    """An optional lookup rides out an outage for at most 60 s, whatever max_outage says."""
    responses.get(BASE + CekuraClient.EXPORT_PATH, status=503)
    responses.get(BASE + CekuraClient.BILLING_PATH, json={"credits_remaining": "oops"})
    found = price(client, clock, backoff, max_outage="3600")
    assert found.no_estimate.startswith("Gave up exporting the scenarios to price them")
    assert found.no_credits == "Cekura's billing gave no figure"
    assert clock.t <= 60


# --- the plan's summary -----------------------------------------------------------------------


def view(**overrides: Any) -> PlanView:
    fields: dict[str, Any] = {
        "agent_id": 42,
        "agent_name": "Receptionist",
        "rows": [PlanRow(101, "Book", "scenario_ids", False)],
        "searched": "",
        "nothing_to_run": None,
        "calls": 2,
        "arithmetic": "1 scenario × frequency 2 = 2 calls",
        "max_runs": 500,
        "estimated_cost": "3.00",
        "currency": "credits",
        "no_estimate": None,
        "credits_left": "10.00",
        "no_credits": None,
        "body": json.dumps(BODY, indent=2),
        "endpoint": "/test_framework/v1/scenarios/run_scenarios_livekit_v2/",
        **overrides,
    }
    return PlanView(**fields)


def test_code_block_when_the_text_holds_backticks_uses_a_longer_fence() -> None:
    """Nothing in the body can end its code block early."""
    block = code_block('{"a": "````"}', "json")
    assert block.startswith("`````json\n") and block.endswith("\n`````")


def test_plan_summary_when_api_text_is_hostile_escapes_it() -> None:
    """Scenario names and the agent's are data: no table break, markup or mention."""
    summary = render_plan(
        view(
            rows=[PlanRow(101, "A | B <img src=x> @team", "scenario_ids", True)],
            agent_name="<script>",
        )
    )
    assert "| A \\| B \\<img src\\=x\\> \\@\u2060team | 101 | scenario\\_ids | yes |" in summary
    assert "<script>" not in summary


def test_plan_summary_when_the_body_is_huge_shows_its_start_and_says_the_log_has_it() -> None:
    """The summary stays bounded; the log keeps the whole body."""
    summary = render_plan(view(body="x" * (MAX_BODY_CHARS + 10)))
    assert "x" * MAX_BODY_CHARS in summary and "x" * (MAX_BODY_CHARS + 1) not in summary
    assert "the log holds the whole body" in summary


def test_plan_summary_when_nothing_is_to_run_says_why_and_no_plan() -> None:
    """Nothing to re-run: the reason, no plan table and no body."""
    summary = render_plan(view(nothing_to_run="Every scenario passed in result 7.", rows=[]))
    assert summary.startswith("## ✅ Cekura: nothing to re-run")
    assert "Every scenario passed in result 7." in summary and "Request body" not in summary


@pytest.mark.parametrize(
    ("price", "note"),
    [
        (
            Price(estimated_cost="3.00", priced_calls=3),
            "Cekura priced 3 calls; the run request places 2.",
        ),
        (
            Price(estimated_cost="30.00", credits_left="29.99"),
            "The estimated cost (30.00) is more than the credits left (29.99).",
        ),
    ],
)
def test_plan_when_the_price_disagrees_or_exceeds_the_credits_says_so(
    price: Price, note: str
) -> None:
    """A price for another number of calls, or above the credits left, is a warning in the plan."""
    settings = Settings.from_inputs({"api_key": API_KEY, "agent_id": "42", "scenario_ids": "101"})
    selection = Selection((Chosen(101, "Book", by=("scenario_ids",)),))
    shown = _view(settings, selection, BODY, count_calls(BODY), price)
    assert shown.notes == [note]
    assert "> [!WARNING]\n> ⚠️ **Note.** " + note.replace("(", "\\(").replace(")", "\\)") in (
        render_plan(shown)
    )
