"""Start the run exactly once: the trigger POST costs money and is not idempotent.

It is repeated only when it provably never reached Cekura (connection refused, 429). After an
ambiguous failure (dropped after sending, read timeout, 5xx, a garbled 200) the results list is
searched for the run's unique name: found, it is adopted; provably absent, the POST is repeated;
undecidable, we stop and say which name to look for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from cekura_ci.client import CekuraClient
from cekura_ci.errors import AmbiguousTrigger, GaveUp, TransientApiError
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
    """POST `body` (what the plan printed; default: built from settings) exactly once."""
    body = body if body is not None else run_request(settings)
    first_post = wall_clock()
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
        except TransientApiError as exc:
            log.warning(
                "The run request failed after it may have reached Cekura (%s); checking whether "
                "the run was created before deciding to send it again.",
                exc,
            )
            adopted = _find_created_run(
                client, settings, clock, backoff, str(exc), since=first_post - CLOCK_SKEW
            )
            if adopted is not None:
                return adopted
            if attempt < MAX_TRIGGER_ATTEMPTS:
                log.info("No result named %r exists; sending the run request again.", settings.name)
    raise GaveUp(
        f"Gave up starting the run after {MAX_TRIGGER_ATTEMPTS} attempts that each failed and "
        f"each left no result named {settings.name!r} behind."
    )


def _find_created_run(
    client: CekuraClient,
    settings: Settings,
    clock: Clock,
    backoff: Backoff,
    cause: str,
    since: dt.datetime,
) -> Result | None:
    """The result our POST created, or None once two searches a while apart both find nothing.

    A result of the same name created well before our first POST is an earlier job's (a `name`
    given by hand need not be unique) and is never adopted.
    """
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
        except (GaveUp, TransientApiError):
            raise AmbiguousTrigger(settings.name, cause) from None
        older = [r for r in found if (created := _created_at(r)) is not None and created < since]
        if older:
            log.info(
                "Ignoring %d older result(s) named %r from before this job's request.",
                len(older),
                settings.name,
            )
        found = [r for r in found if r not in older]
        if found:
            found.sort(key=lambda result: result.id)
            if len(found) > 1:
                log.warning(
                    "%d results are named %r; adopting the first (%d).",
                    len(found),
                    settings.name,
                    found[0].id,
                )
            log.info("Cekura did create the run: adopting result %d.", found[0].id)
            return found[0]
    return None
