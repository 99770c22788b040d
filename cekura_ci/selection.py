"""Which scenarios run, resolved before anything is spent.

`scenario_ids`, the `scenarios_file` entries and the scenarios Cekura's list gives for
`scenario_tags` and `scenario_folder` (one search: both filters apply) are run together, each
once, in that order (first mention wins). A scenario keeps the `publish_data_message` the file
gives it when another selector chooses it too; the file itself refuses a scenario listed twice
(with two different messages, or the same one).
`rerun_failed_from` then keeps only the scenarios that did not pass in that result (alone, it
chooses them all). A search that finds nothing is a bad input; a re-run with nothing to re-run is
not an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from cekura_ci.catalog import Scenario
from cekura_ci.client import CekuraClient
from cekura_ci.errors import ResultNotFound
from cekura_ci.models import Result
from cekura_ci.scenarios_file import read_scenarios_file
from cekura_ci.settings import Settings, SettingsError
from cekura_ci.timing import Backoff, Clock, ride_out

log = logging.getLogger(__name__)

TAG_FILTER_TYPES = {"any": "or", "all": "and", "none": "not"}


@dataclass(frozen=True)
class Chosen:
    """One scenario to run: its id, its name when known, its message, and what chose it."""

    scenario: int
    name: str | None = None
    message: dict[str, Any] | None = None
    by: tuple[str, ...] = ()

    def item(self) -> dict[str, Any]:
        """The run request's `scenarios` item; the message exactly as the file wrote it."""
        item: dict[str, Any] = {"scenario": self.scenario}
        if self.message is not None:
            item["publish_data_message"] = self.message
        return item


@dataclass(frozen=True)
class Selection:
    scenarios: tuple[Chosen, ...]
    #: Why nothing is to run although scenarios were chosen (rerun_failed_from found no failure).
    nothing_to_run: str | None = None
    #: The search the tags and folder made, in words ("" without them).
    searched: str = ""

    def items(self) -> list[dict[str, Any]]:
        return [chosen.item() for chosen in self.scenarios]

    def with_names(self, names: dict[int, str | None]) -> Selection:
        scenarios = tuple(replace(c, name=c.name or names.get(c.scenario)) for c in self.scenarios)
        return replace(self, scenarios=scenarios)


def select(settings: Settings, client: CekuraClient, clock: Clock, backoff: Backoff) -> Selection:
    """Every selector resolved into the scenarios to run; SettingsError names a bad one."""
    chosen: dict[int, Chosen] = {}

    def add(scenario: int, by: str, name: str | None = None, message: Any = None) -> None:
        """First mention sets the place; a message, from the file, is kept whoever chose the
        scenario first (the file refuses a scenario listed twice, so it never has two)."""
        earlier = chosen.get(scenario)
        if earlier is None:
            chosen[scenario] = Chosen(scenario, name, message, (by,))
            return
        chosen[scenario] = replace(
            earlier,
            name=earlier.name or name,
            message=earlier.message if earlier.message is not None else message,
            by=(*earlier.by, by),
        )

    for scenario in settings.scenario_ids:
        add(scenario, "scenario_ids")
    if settings.scenarios_file:
        for entry in read_scenarios_file(settings.scenarios_file):
            add(
                entry.scenario,
                f"{settings.scenarios_file} entry {entry.number}",
                message=entry.publish_data_message,
            )
    searched = ""
    if settings.scenario_tags or settings.scenario_folder:
        searched = describe_search(settings)
        found = ride_out(
            lambda: client.list_scenarios(
                _agent(settings),
                tags=settings.scenario_tags,
                tag_filter_type=TAG_FILTER_TYPES[settings.tag_match],
                folder_path=settings.scenario_folder,
            ),
            what="looking up the scenarios to run",
            clock=clock,
            backoff=backoff,
            budget=settings.max_outage,
        )
        found = [row for row in found if in_folder(row, settings.scenario_folder)]
        if not found:
            raise SettingsError(
                [
                    (
                        "scenario_tags" if settings.scenario_tags else "scenario_folder",
                        f"no scenario matched: searched Cekura for {searched}. Tags and folders "
                        "must be spelled as in Cekura",
                    )
                ]
            )
        by = " and ".join(
            name for name in ("scenario_tags", "scenario_folder") if getattr(settings, name)
        )
        for row in found:
            add(row.id, by, name=row.name)
    selection = Selection(tuple(chosen.values()), searched=searched)
    if settings.rerun_failed_from is not None:
        selection = _rerun(selection, settings.rerun_failed_from, settings, client, clock, backoff)
    return selection


def _agent(settings: Settings) -> int:
    if settings.agent_id is None:  # pragma: no cover - Settings refuses a run without one
        raise SettingsError([("agent_id", "expected a positive integer agent id")])
    return settings.agent_id


def in_folder(row: Scenario, folder: str) -> bool:
    """The folder or one of its subfolders (dot-separated: `Booking` holds `Booking.Inbound`, not
    `BookingFAQ`, nor a scenario in no folder), whatever the server's filter matched; a row that
    does not carry its folder is trusted."""
    if not folder or "folder_path" not in row.model_fields_set:
        return True
    path = row.folder_path
    return path is not None and (path == folder or path.startswith(folder + "."))


def describe_search(settings: Settings) -> str:
    """The tag and folder search in words, for the log and for an error that found nothing."""
    words = f"scenarios of agent {settings.agent_id}"
    if settings.scenario_tags:
        tags = ", ".join(repr(tag) for tag in settings.scenario_tags)
        words += f" with {settings.tag_match} of the tags {tags}"
    if settings.scenario_folder:
        words += f" in the folder {settings.scenario_folder!r} (subfolders included)"
    return words


def _rerun(
    selection: Selection,
    result_id: int,
    settings: Settings,
    client: CekuraClient,
    clock: Clock,
    backoff: Backoff,
) -> Selection:
    try:
        result = ride_out(
            lambda: client.get_result(result_id),
            what=f"reading result {result_id}",
            clock=clock,
            backoff=backoff,
            budget=settings.max_outage,
        )
    except ResultNotFound:
        raise SettingsError(
            [
                (
                    "rerun_failed_from",
                    f"Cekura has no result {result_id} that this API key can see",
                )
            ]
        ) from None
    if not result.is_terminal:
        raise SettingsError(
            [
                (
                    "rerun_failed_from",
                    f"result {result_id} is still {result.status}: which scenarios fail is not "
                    "known until it ends",
                )
            ]
        )
    if result.agent is not None and result.agent != settings.agent_id:
        raise SettingsError(
            [
                (
                    "rerun_failed_from",
                    f"result {result_id} tested agent {result.agent}, not agent_id "
                    f"{settings.agent_id}",
                )
            ]
        )
    if not result.runs:  # nothing passed either: never a green gate that tested nothing
        raise SettingsError(
            [
                (
                    "rerun_failed_from",
                    f"result {result_id} has no runs, so which scenarios failed is not known",
                )
            ]
        )
    failed = not_passed(result)
    if not failed and any(run.scenario is None and not run.passed for run in result.runs):
        raise SettingsError(
            [
                (
                    "rerun_failed_from",
                    f"the runs that did not pass in result {result_id} name no scenario (it was "
                    "deleted, or Cekura did not say): they cannot be re-run",
                )
            ]
        )
    others = bool(selection.scenarios)
    if others:
        kept = tuple(
            replace(c, name=c.name or failed[c.scenario], by=(*c.by, "rerun_failed_from"))
            for c in selection.scenarios
            if c.scenario in failed
        )
    else:
        kept = tuple(
            Chosen(scenario, name, None, ("rerun_failed_from",))
            for scenario, name in failed.items()
        )
    if kept:
        return replace(selection, scenarios=kept)
    if not failed:
        why = f"Every scenario passed in result {result_id}: nothing to re-run."
    else:
        listed = ", ".join(map(str, list(failed)[:20])) + (" …" if len(failed) > 20 else "")
        why = (
            f"None of the chosen scenarios failed in result {result_id} (those that did not "
            f"pass there: {listed}): nothing to re-run."
        )
    return replace(selection, scenarios=(), nothing_to_run=why)


def not_passed(result: Result) -> dict[int, str]:
    """The scenarios that did not pass in a result (the verdict's own notion: any of its runs
    failed or never finished), by id with their names, in the order the result ran them."""
    from cekura_ci.verdict import Policy, judge  # imported when needed, as the pipeline does

    # Whether a scenario passed does not depend on thresholds: they only tell failed from flaky.
    verdict = judge(result, Policy())
    failing = {s.scenario_id for s in verdict.scenarios if s.state != "passed"}
    lost = None in failing
    failing.discard(None)
    if lost:
        log.warning(
            "Runs of result %s whose scenario no longer exists did not pass; they cannot be re-run.",
            result.id,
        )
    found: dict[int, str] = {}
    for run in sorted(result.runs, key=lambda r: r.id):
        if run.scenario in failing and run.scenario not in found:
            found[run.scenario] = run.scenario_name or f"Scenario {run.scenario}"
    return found
