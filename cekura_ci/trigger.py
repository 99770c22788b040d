"""Start the run exactly once: the trigger POST costs money and is not idempotent.

It is repeated only when it provably never reached Cekura (connection refused, 429). After an
ambiguous failure (dropped after sending, read timeout, 5xx, a garbled or unusable 200) the results
list is searched for the run's unique name: found, it is adopted; provably absent, the POST is
repeated; undecidable, we stop and say which name to look for. A cancel before the POST starts
nothing; a cancel once a run may exist looks for it once, ends its calls if found, and names it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from cekura_ci.client import CekuraClient
from cekura_ci.errors import (
    AmbiguousTrigger,
    ApiError,
    BadAnswer,
    Cancelled,
    GaveUp,
    TransientApiError,
)
from cekura_ci.models import Result
from cekura_ci.settings import Settings
from cekura_ci.timing import Backoff, Clock, ride_out

log = logging.getLogger(__name__)

#: How long a request that timed out may still be on its way to being processed by Cekura.
SETTLE_SECONDS = 5.0
#: How many POSTs one step may send at most, however the failures fall.
MAX_TRIGGER_ATTEMPTS = 3
#: Clocks disagree: a result created this long before our POST may still be ours.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: After a cancel, how long the one look for a run that may have been started may take; ending
#: its calls may take END_CALLS_TIMEOUT more, and both fit before the runner's SIGTERM.
LOOKUP_AFTER_CANCEL = 2.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _created_at(result: Result) -> dt.datetime | None:
    try:
        created = dt.datetime.fromisoformat((result.created_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)


def run_request(
    settings: Settings, scenarios: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The RunLivekitScenarios body; optional fields are sent only when given. `scenarios`: the
    items the selection resolved (default: `scenario_ids`, without messages)."""
    if scenarios is None:
        scenarios = [{"scenario": scenario} for scenario in settings.scenario_ids]
    body: dict[str, Any] = {
        "agent": settings.agent_id,
        "scenarios": scenarios,
        "frequency": settings.frequency,
        "name": settings.name,
    }
    optional = {
        "personality_ids": settings.personality_ids,
        "test_profile_ids": settings.test_profile_ids,
        "mock_tool_names": settings.mock_tool_names,
        "concurrency_limit": settings.concurrency_limit,
        "livekit_data": settings.livekit_data,
    }
    for key, value in optional.items():
        if value is not None:
            body[key] = list(value) if isinstance(value, tuple) else value
    return body


def start_run(
    client: CekuraClient,
    settings: Settings,
    clock: Clock,
    backoff: Backoff,
    wall_clock: Callable[[], dt.datetime] = _utc_now,
    body: dict[str, Any] | None = None,
) -> Result:
    body = body if body is not None else run_request(settings)  # the plan's, as printed
    since = wall_clock() - CLOCK_SKEW
    maybe_created = False  # a POST may have reached Cekura and not been accounted for yet
    try:
        for attempt in range(1, MAX_TRIGGER_ATTEMPTS + 1):
            try:
                return ride_out(
                    lambda: client.trigger_run(body),
                    what="starting the run",
                    clock=clock,
                    backoff=backoff,
                    budget=settings.max_outage,
                    retry_if=lambda exc: not exc.reached_server,
                )
            except (TransientApiError, BadAnswer) as exc:
                maybe_created = True
                log.warning(
                    "The run request failed after it may have reached Cekura (%s); checking "
                    "whether the run was created before deciding to send it again.",
                    exc,
                )
                adopted = _find_created_run(client, settings, clock, backoff, str(exc), since)
                if adopted is not None:
                    return adopted
                maybe_created = False  # two looks found nothing: that POST created no run
                if attempt < MAX_TRIGGER_ATTEMPTS:
                    log.info(
                        "No result named %r exists; sending the run request again.", settings.name
                    )
    except Cancelled as exc:
        if maybe_created or exc.reached_server:
            raise _cancelled_after_sending(client, settings, exc, since) from None
        raise Cancelled(exc.signal_number, "No run was started.") from None
    raise GaveUp(
        f"Gave up starting the run after {MAX_TRIGGER_ATTEMPTS} attempts that each failed and "
        f"each left no result named {settings.name!r} behind."
    )


def _ours(found: list[Result], name: str, since: dt.datetime) -> Result | None:
    """Of the results named `name`, the one our POST created: never one created well before it (a
    `name` given by hand need not be unique); of several, the first."""
    older = [r for r in found if (created := _created_at(r)) is not None and created < since]
    if older:
        log.info(
            "Ignoring %d older result(s) named %r from before this job's request.", len(older), name
        )
    found = sorted((r for r in found if r not in older), key=lambda result: result.id)
    if len(found) > 1:
        log.warning(
            "%d results are named %r; adopting the first (%d).", len(found), name, found[0].id
        )
    return found[0] if found else None


def _find_created_run(
    client: CekuraClient,
    settings: Settings,
    clock: Clock,
    backoff: Backoff,
    cause: str,
    since: dt.datetime,
) -> Result | None:
    """The result our POST created, or None once two searches a while apart both find nothing."""
    for _look in range(2):
        clock.sleep(SETTLE_SECONDS)
        try:
            found = ride_out(
                lambda: client.find_results(settings.name, settings.agent_id),
                what="looking for the run by name",
                clock=clock,
                backoff=backoff,
                budget=min(settings.max_outage, 120.0),
            )
        except (GaveUp, ApiError) as exc:
            raise AmbiguousTrigger(
                settings.name, f"{cause}; then the lookup failed: {exc}"
            ) from None
        adopted = _ours(found, settings.name, since)
        if adopted is not None:
            log.info("Cekura did create the run: adopting result %d.", adopted.id)
            return adopted
    return None


def _cancelled_after_sending(
    client: CekuraClient, settings: Settings, cancelled: Cancelled, since: dt.datetime
) -> Cancelled:
    """Cancelled while a run may exist: one quick look for it, its calls ended if it is there, and
    the error names it either way. A further signal (the runner's SIGTERM) cuts this short."""
    name = settings.name
    found: Result | None = None
    with client.cancel.cleanup():
        try:
            found = _ours(
                client.find_results(name, settings.agent_id, timeout=LOOKUP_AFTER_CANCEL),
                name,
                since,
            )
        except (ApiError, Cancelled) as exc:
            log.warning("Could not look for the run %r after the cancel: %s", name, exc)
        if found is None:
            detail = (
                f"The run request may have reached Cekura: look for a result named {name!r} in "
                "Cekura and end its calls if they are running, or re-run this job with the "
                "result_id input set to its id to wait for it without starting another run."
            )
        elif not settings.end_calls_on_cancel:
            detail = (
                f"Cekura had started the run: result {found.id}, named {name!r}. Its calls were "
                "left running (end_calls_on_cancel is false)."
            )
        else:
            try:
                client.end_calls(found.id)
                ended = "its live calls were asked to end"
            except Cancelled:
                ended = "a further signal stopped the request to end its calls: end them in Cekura"
            except ApiError as exc:
                ended = f"its calls could not be ended ({exc}): end them in Cekura"
            detail = f"Cekura had started the run: result {found.id}, named {name!r}; {ended}."
    stopped = Cancelled(cancelled.signal_number, detail, reached_server=True)
    stopped.result_id = found.id if found is not None else None
    return stopped
