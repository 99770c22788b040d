"""Before anything is spent: the run request is built from the selection, its calls are counted and
refused above `max_runs`; a dry run then checks the agent and every scenario, asks Cekura what the
run would cost and how many credits are left, shows the plan and stops. Nothing here places a call.
"""

from __future__ import annotations

import decimal
import json
import logging
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from cekura_ci.client import TRIGGER_PATH, CekuraClient
from cekura_ci.errors import ApiError, CekuraCIError, ExitCode, GaveUp
from cekura_ci.github import GitHub
from cekura_ci.publish import write_report
from cekura_ci.selection import Chosen, Selection, select
from cekura_ci.settings import Settings, SettingsError
from cekura_ci.text import one_line, redact
from cekura_ci.timing import Backoff, Clock, ride_out
from cekura_ci.trigger import run_request

if TYPE_CHECKING:
    from cekura_ci.report.plan import PlanView

# The plan's report (and jinja2) is imported when a plan is shown, not before the first request.

log = logging.getLogger(__name__)

#: The JSON-spec run prices a LiveKit v2 run when told the channel.
CHANNEL = "livekit_v2"
#: Seconds a lookup that only informs (price, credits) may ride out API failures.
OPTIONAL_BUDGET = 60.0
#: Scenarios missing from the agent's list that are looked up one by one to say why.
MAX_LOOKUPS = 20


@dataclass(frozen=True)
class Calls:
    """The calls one run request places, as Cekura multiplies them."""

    scenarios: int
    frequency: int
    personalities: int | None = None
    test_profiles: int | None = None

    @property
    def total(self) -> int:
        return (
            self.scenarios * self.frequency * (self.personalities or 1) * (self.test_profiles or 1)
        )

    def arithmetic(self) -> str:
        parts = [_plural(self.scenarios, "scenario"), f"frequency {self.frequency}"]
        if self.personalities is not None:
            parts.append(_plural(self.personalities, "personality", "personalities"))
        if self.test_profiles is not None:
            parts.append(_plural(self.test_profiles, "test profile"))
        return " × ".join(parts) + f" = {_plural(self.total, 'call')}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def count_calls(body: dict[str, Any]) -> Calls:
    """Scenarios × frequency, times the personalities and test profiles when overridden."""
    personalities = body.get("personality_ids")
    profiles = body.get("test_profile_ids")
    return Calls(
        scenarios=len(body["scenarios"]),
        frequency=int(body.get("frequency", 1)),
        personalities=len(personalities) if personalities is not None else None,
        test_profiles=len(profiles) if profiles is not None else None,
    )


class TooManyCalls(CekuraCIError):
    """The run would place more calls than max_runs allows; nothing was sent."""

    exit_code = ExitCode.USAGE_ERROR
    hint = (
        "Nothing was sent to Cekura. Choose fewer scenarios, a lower frequency or fewer "
        "personality and test-profile overrides; or, if this many calls is intended, raise "
        "max_runs (0 means no limit)."
    )


def check_max_runs(calls: Calls, max_runs: int) -> None:
    if max_runs and calls.total > max_runs:
        raise TooManyCalls(
            f"Refused to start: this run would place {calls.arithmetic()}, above max_runs "
            f"{max_runs}."
        )


@dataclass(frozen=True)
class Prepared:
    """What the trigger sends and how many calls it places; `stop` ends the step before it."""

    body: dict[str, Any] | None = None
    calls: Calls | None = None
    stop: ExitCode | None = None


def prepare_run(
    settings: Settings, client: CekuraClient, github: GitHub, clock: Clock, backoff: Backoff
) -> Prepared:
    """Selection → the request and its calls → max_runs → a dry run stops here, shown whole."""
    if settings.result_id is not None:
        return Prepared()  # waiting for an existing result: nothing to choose or send
    selection = select(settings, client, clock, backoff)
    if selection.nothing_to_run:
        github.log(selection.nothing_to_run)
        _publish(_view(settings, selection, None, None), settings, github, selection.nothing_to_run)
        github.set_output("planned_runs", 0)
        return Prepared(stop=ExitCode.PASSED)
    body = run_request(settings, selection.items())
    calls = count_calls(body)
    github.set_output("planned_runs", calls.total)
    check_max_runs(calls, settings.max_runs)
    if not settings.dry_run:
        github.set_output("estimated_cost", "")  # only a dry run asks for a price
        log_selection(selection, github)
        github.log(f"This run places {calls.arithmetic()}{_limit(settings)}.")
        return Prepared(body, calls)
    github.log("Dry run: the run is planned and checked, then not started; nothing is charged.")
    if settings.comment != "off":
        github.log("A dry run posts no pull-request comment: the plan is in the job summary.")
    selection, agent_name = verify(selection, settings, client, clock, backoff)
    log_selection(selection, github)
    price = estimate(body, settings, client, clock, backoff)
    view = _view(settings, selection, body, calls, price, agent_name)
    _log_plan(view, github)
    _publish(view, settings, github, f"Dry run: {calls.arithmetic()} planned; nothing was started.")
    github.set_output("estimated_cost", price.estimated_cost or "")
    return Prepared(body, calls, stop=ExitCode.PASSED)


def _limit(settings: Settings) -> str:
    return f" (max_runs {settings.max_runs})" if settings.max_runs else " (no max_runs limit)"


def log_selection(selection: Selection, github: GitHub) -> None:
    """The resolved list, one scenario a line: id, name when known, what chose it."""
    if selection.searched:
        github.log(f"Searched Cekura for {selection.searched}.")
    with (
        github.group(f"{_plural(len(selection.scenarios), 'scenario')} selected"),
        github.commands_stopped(),
    ):
        for chosen in selection.scenarios:
            name = one_line(chosen.name, 100) if chosen.name else "(name not looked up)"
            message = " · with publish_data_message" if chosen.message is not None else ""
            github.log(f"  {chosen.scenario} · {name} · {', '.join(chosen.by)}{message}")


# --- the dry run: check, price, show ---------------------------------------------------------


def _not_found(exc: ApiError) -> bool:
    return exc.status == 404


def _input_of(chosen: Chosen) -> str:
    """The input to blame for a scenario: the first that chose it."""
    first = chosen.by[0]
    if first in Settings.model_fields:
        return first
    if first.startswith("scenario_tags"):
        return "scenario_tags"
    return "scenarios_file"


def verify(
    selection: Selection, settings: Settings, client: CekuraClient, clock: Clock, backoff: Backoff
) -> tuple[Selection, str | None]:
    """The agent exists, and every scenario exists and is the agent's; names filled in."""
    agent_id = settings.agent_id
    if agent_id is None:  # pragma: no cover - Settings refuses a run without an agent
        raise SettingsError([("agent_id", "expected a positive integer agent id")])

    def lookup(call: Any, what: str) -> Any:
        return ride_out(call, what=what, clock=clock, backoff=backoff, budget=settings.max_outage)

    try:
        agent = lookup(lambda: client.get_agent(agent_id), f"checking agent {agent_id}")
    except ApiError as exc:
        if not _not_found(exc):
            raise
        raise SettingsError(
            [("agent_id", f"Cekura has no agent {agent_id} that this API key can see")]
        ) from None
    known = {
        row.id: row
        for row in lookup(
            lambda: client.list_scenarios(agent_id), f"listing the scenarios of agent {agent_id}"
        )
    }
    missing = [c for c in selection.scenarios if c.scenario not in known]
    problems: list[tuple[str, str]] = []
    for chosen in missing[:MAX_LOOKUPS]:
        where = _input_of(chosen)
        try:
            row = lookup(
                lambda c=chosen: client.get_scenario(c.scenario),
                f"looking up scenario {chosen.scenario}",
            )
        except ApiError as exc:
            if not _not_found(exc):
                raise
            problems.append(
                (
                    where,
                    f"scenario {chosen.scenario} does not exist (or this API key cannot see it)",
                )
            )
            continue
        problems.append(
            (
                where,
                f"scenario {chosen.scenario} ({one_line(row.name or '', 80)}) belongs to agent "
                f"{row.agent}, not to agent {agent_id}",
            )
        )
    if len(missing) > MAX_LOOKUPS:
        problems.append(
            (
                "scenario_ids",
                f"{len(missing) - MAX_LOOKUPS} more scenarios are not scenarios of agent {agent_id}",
            )
        )
    if problems:
        raise SettingsError(problems)
    names = {scenario: row.name for scenario, row in known.items()}
    return selection.with_names(names), agent.agent_name


@dataclass(frozen=True)
class Price:
    """Cekura's estimate and the credits left, or why either is missing."""

    estimated_cost: str | None = None
    currency: str | None = None
    priced_calls: int | None = None
    no_estimate: str | None = None
    credits_left: str | None = None
    no_credits: str | None = None
    notes: tuple[str, ...] = ()


def _why(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status in (401, 403):
        return f"Cekura refused it to this API key (HTTP {status}; project-scoped keys may not see prices or billing)"
    if status is not None:
        return f"Cekura answered HTTP {status}"
    return one_line(str(exc), 200)


def estimate(
    body: dict[str, Any],
    settings: Settings,
    client: CekuraClient,
    clock: Clock,
    backoff: Backoff,
) -> Price:
    """Cekura's price for the same scenarios, frequency and overrides (export them as a spec, then
    the JSON-spec run with `dry_run=true`), and the credits left. Either may be refused: then
    there is none, and the dry run goes on."""
    agent_id = body["agent"]
    budget = min(settings.max_outage, OPTIONAL_BUDGET)

    def optional(call: Any, what: str, **kwargs: Any) -> Any:
        return ride_out(call, what=what, clock=clock, backoff=backoff, budget=budget, **kwargs)

    fields: dict[str, Any] = {}
    notes: list[str] = []
    try:
        spec = optional(
            lambda: client.export_scenarios(
                [item["scenario"] for item in body["scenarios"]], agent_id
            ),
            "exporting the scenarios to price them",
        )
        request = {
            "agent_id": agent_id,
            "channel": CHANNEL,
            "spec": spec,
            "name": body["name"],
            "frequency": body["frequency"],
            **{
                key: body[key]
                for key in ("personality_ids", "test_profile_ids", "livekit_data")
                if key in body
            },
        }
        answer = optional(
            lambda: client.estimate_run(request),
            "asking Cekura for a price",
            # Never sent twice once it may have arrived, dry run or not.
            retry_if=lambda exc: not exc.reached_server,
        )
    except (ApiError, GaveUp) as exc:
        fields["no_estimate"] = _why(exc)
    else:
        if answer.dry_run is False:
            notes.append(
                f"Cekura's answer to the price request says it was not a dry run: look in Cekura "
                f"for a result named {body['name']!r}."
            )
        if answer.estimated_cost is None:
            fields["no_estimate"] = "Cekura's dry run gave no cost"
        fields.update(
            estimated_cost=answer.estimated_cost,
            currency=answer.currency,
            priced_calls=answer.total_runs,
        )
    try:
        info = optional(client.billing_info, "reading the credits left")
    except (ApiError, GaveUp) as exc:
        fields["no_credits"] = _why(exc)
    else:
        fields["credits_left"] = info.credits_remaining
        if info.credits_remaining is None:
            fields["no_credits"] = "Cekura's billing gave no figure"
    return Price(**fields, notes=tuple(notes))


def _exceeds(cost: str | None, credits: str | None) -> bool:
    try:
        return (
            cost is not None
            and credits is not None
            and decimal.Decimal(cost) > decimal.Decimal(credits)
        )
    except decimal.InvalidOperation:  # pragma: no cover - both were read as decimals
        return False


def _view(
    settings: Settings,
    selection: Selection,
    body: dict[str, Any] | None,
    calls: Calls | None,
    price: Price | None = None,
    agent_name: str | None = None,
) -> PlanView:
    from cekura_ci.report.plan import PlanRow, PlanView

    price = price or Price()
    notes = list(price.notes)
    if calls and price.priced_calls is not None and price.priced_calls != calls.total:
        notes.append(
            f"Cekura priced {_plural(price.priced_calls, 'call')}; the run request places "
            f"{calls.total}."
        )
    if _exceeds(price.estimated_cost, price.credits_left):
        notes.append(
            f"The estimated cost ({price.estimated_cost}) is more than the credits left "
            f"({price.credits_left})."
        )
    return PlanView(
        agent_id=settings.agent_id,
        agent_name=agent_name,
        rows=[
            PlanRow(c.scenario, c.name, ", ".join(c.by), c.message is not None)
            for c in selection.scenarios
        ],
        searched=selection.searched,
        nothing_to_run=selection.nothing_to_run,
        calls=calls.total if calls else 0,
        arithmetic=calls.arithmetic() if calls else "",
        max_runs=settings.max_runs,
        estimated_cost=price.estimated_cost,
        currency=price.currency or "credits",
        no_estimate=price.no_estimate,
        credits_left=price.credits_left,
        no_credits=price.no_credits,
        body=json.dumps(body, indent=2, ensure_ascii=False) if body is not None else "",
        endpoint=TRIGGER_PATH,
        notes=notes,
    )


def _log_plan(view: PlanView, github: GitHub) -> None:
    github.log(f"Request body that would be sent to POST {view.endpoint}:")
    with github.commands_stopped():
        for line in view.body.splitlines():
            github.log(line)
    github.log(
        f"Calls: {view.arithmetic}{'' if not view.max_runs else f' (max_runs {view.max_runs})'}."
    )
    if view.estimated_cost is not None:
        github.log(
            f"Estimated cost: {view.estimated_cost} {one_line(view.currency, 40)} (Cekura's dry run)."
        )
    else:
        github.log(f"Estimated cost: no estimate ({view.no_estimate}).")
    if view.credits_left is not None:
        github.log(f"Credits left: {view.credits_left}.")
    else:
        github.log(f"Credits left: unknown ({view.no_credits}).")
    for note in view.notes:
        log.warning("%s", note)
    github.log("Dry run done: nothing was started.")


def _redacted(item: Any, secrets: list[str]) -> Any:
    """A dataclass with every text field redacted."""
    texts = {
        f.name: redact(value, secrets)
        for f in fields(item)
        if isinstance(value := getattr(item, f.name), str)
    }
    return replace(item, **texts)


def _publish(view: PlanView, settings: Settings, github: GitHub, said: str) -> None:
    """The plan as the job summary and summary_file, a passing JUnit file when one is asked for,
    and the outcome: the step ends with exit 0, `passed`, having started nothing."""
    # Redacted before rendering: Markdown escaping would hide a secret from a later redaction.
    # Every text of the view, whatever it holds (the price answer's currency, a refusal's words).
    secrets = github.masked
    safe = replace(
        _redacted(view, secrets),
        rows=[_redacted(row, secrets) for row in view.rows],
        notes=[redact(note, secrets) for note in view.notes],
    )
    from cekura_ci.report.junit import render_plan_junit
    from cekura_ci.report.plan import render_plan

    summary = render_plan(safe)
    github.append_summary(summary)
    files = {
        "summary_file": write_report(
            github, "summary_file", settings.summary_file, lambda: summary
        ),
        "junit_file": write_report(
            github,
            "junit_file",
            settings.junit_file,
            lambda: render_plan_junit(redact(said, secrets)),
        ),
    }
    for name, path in files.items():
        if path:
            github.set_output(name, path)
    github.set_output("outcome", "passed")
    github.set_output("passed", "true")
