"""What each served endpoint does: read the request, look up or change the timeline, answer.

Handlers see a request that routing has already matched, authorized and spared from faults; they
validate (validation), act (timeline), shape (serializers) and page (paging), and nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import serializers as out
from .paging import INVALID_PAGE, InvalidPage, paginate
from .reply import Reply, detail, json_reply
from .timeline import (
    EmulatedResult,
    EmulatedRun,
    Ledger,
    ResultMoment,
    RunMoment,
    expand,
    result_moment,
)
from .validation import (
    REQUIRED,
    Invalid,
    bool_param,
    choice,
    choice_param,
    datetime_param,
    first,
    json_spec_run,
    livekit_run,
    number_param,
    numbers_param,
    share_link,
)
from .world import PersonalitySpec, ResultStatus, ScenarioSpec, World

STATUSES: tuple[str, ...] = ResultStatus.__args__  # type: ignore[attr-defined]
EXPORT_TYPES = ("csv", "json", "xlsx")
TAG_FILTERS = ("and", "or", "not")
#: Test cases materialized from a posted spec get ids from here on.
SPEC_SCENARIO_IDS = 800001


@dataclass
class Request:
    method: str
    #: The path as requested (alias and slash form kept), and the URL paging links start from.
    path: str
    url: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    #: Set by a handler that created a result.
    created: int | None = None


class Endpoints:
    def __init__(
        self,
        world: World,
        ledger: Ledger,
        now: Callable[[], float],
        wall: Callable[[], dt.datetime],
    ) -> None:
        self.world = world
        self.ledger = ledger
        self.now = now
        self.wall = wall
        self._next_spec_scenario = SPEC_SCENARIO_IDS

    # --- helpers ----------------------------------------------------------------------------

    def _moment(self, result: EmulatedResult) -> ResultMoment:
        return result_moment(result, self.now(), self.world)

    def _updated_at(self, result: EmulatedResult) -> dt.datetime:
        if result.frozen is None:
            return self.wall()
        return result.wall(max((run.finishes for run in result.runs), default=result.created))

    def _result(self, req: Request) -> EmulatedResult | Reply:
        try:
            result = self.ledger.get(int(req.params["id"]))
        except ValueError:
            return detail(404, "Not found.")
        return result or detail(404, "No Result matches the given query.")

    def _page(
        self, rows: list[Any], req: Request, render: Callable[[Any], dict[str, Any]]
    ) -> Reply:
        try:
            page = paginate(rows, req.query, self.world.page_size, self.world.max_page_size)
        except InvalidPage:
            return detail(404, INVALID_PAGE)
        return json_reply(
            200, page.envelope([render(row) for row in page.items], req.url, req.query)
        )

    def _project(self, agent_id: int) -> int | None:
        agent = self.world.agent(agent_id)
        return agent.project if agent else None

    # --- results ----------------------------------------------------------------------------

    def trigger(self, req: Request) -> Reply:
        """POST …/run_scenarios_livekit_v2/: plan the runs, answer the result and its runs."""
        try:
            run = livekit_run(req.body, self.world)
        except Invalid as exc:
            return json_reply(400, exc.detail)
        specs = [self.world.scenario(s) for s in run.scenarios]
        scenarios = [s for s in specs if s is not None]
        agent_id = run.agent if run.agent is not None else scenarios[0].agent
        if self.world.agent(agent_id) is None:
            return json_reply(400, {"agent": [f'Invalid pk "{agent_id}" - object does not exist.']})
        personalities = [self.world.personality(i) for i in run.personality_ids or []]
        profiles = [self.world.test_profile(i) for i in run.test_profile_ids or []]
        plans = expand(
            self.world,
            scenarios,
            [p for p in personalities if p] or None,
            [p for p in profiles if p] or None,
        )
        result = self.ledger.create(
            name=run.name,
            agent=agent_id,
            plans=plans,
            frequency=run.frequency,
            concurrency=run.concurrency_limit,
            settings=run.settings,
            now=self.now(),
            created_at=self.wall(),
        )
        req.created = result.id
        return json_reply(200, out.trigger_answer(result))

    def result(self, req: Request) -> Reply:
        found = self._result(req)
        if isinstance(found, Reply):
            return found
        return json_reply(
            200, out.result_detail(self.world, found, self._moment(found), self._updated_at(found))
        )

    def results(self, req: Request) -> Reply:
        """GET /results/: `search`, `agent_id`, `project_id`, `scenarios`, paged."""
        q = req.query
        try:
            agent = number_param(q, "agent_id")
            project = number_param(q, "project_id")
            scenarios = numbers_param(q, "scenarios")
        except Invalid as exc:
            return json_reply(400, exc.detail)
        rows = self.ledger.ordered()
        search = (first(q, "search") or "").strip().lower()
        if search and self.world.search == "terms":
            terms = search.replace(",", " ").split()
            rows = [r for r in rows if all(t in r.name.lower() for t in terms)]
        elif search:
            rows = [r for r in rows if search in r.name.lower()]
        if agent is not None:
            rows = [r for r in rows if r.agent == agent]
        if project is not None:
            rows = [r for r in rows if self._project(r.agent) == project]
        if scenarios:
            # As documented: one row per matching run, so a result can appear more than once.
            rows = [r for r in rows for run in r.runs if run.scenario.id in scenarios]
        return self._page(
            rows,
            req,
            lambda r: out.result_row(self.world, r, self._moment(r), self._updated_at(r)),
        )

    def end_calls(self, req: Request) -> Reply:
        found = self._result(req)
        if isinstance(found, Reply):
            return found
        if found.ended_at is None and found.frozen is None:
            found.ended_at = self.now()
        return Reply(200)  # "No response body"

    def share_link(self, req: Request) -> Reply:
        found = self._result(req)
        if isinstance(found, Reply):
            return found
        try:
            share_link(req.body)
        except Invalid as exc:
            return json_reply(400, exc.detail)
        token = f"share-{found.id}-{len(found.share_tokens) + 1}"
        found.share_tokens.append(token)
        return json_reply(
            200, {"token": token, "shareable_link": out.SHARE_URL.format(token=token)}
        )

    # --- runs -------------------------------------------------------------------------------

    def runs(self, req: Request) -> Reply:
        """GET /runs/: the documented filters that a client of a LiveKit result would use."""
        q = req.query
        try:
            ids = numbers_param(q, "id__in") or (
                [number_param(q, "id")] if first(q, "id") else None
            )
            result_ids = [
                n for n in (number_param(q, "result__id"), number_param(q, "result_id")) if n
            ]
            agents = numbers_param(q, "result__agent_id__in") or [
                n for n in (number_param(q, "result__agent_id"), number_param(q, "agent_id")) if n
            ]
            scenario_ids = (
                numbers_param(q, "scenario__id__in") or numbers_param(q, "scenarios") or []
            )
            if (one := number_param(q, "scenario__id")) is not None:
                scenario_ids.append(one)
            personality_ids = (
                numbers_param(q, "personality__id__in") or numbers_param(q, "personalities") or []
            )
            if (one := number_param(q, "personality__id")) is not None:
                personality_ids.append(one)
            status = choice_param(q, "status", STATUSES)
            statuses = [s for s in (first(q, "status__in") or "").split(",") if s]
            project = number_param(q, "project_id")
            since = datetime_param(q, "timestamp__gte") or datetime_param(q, "created_at_from")
            until = datetime_param(q, "timestamp__lte") or datetime_param(q, "created_at_to")
        except Invalid as exc:
            return json_reply(400, exc.detail)
        success = bool_param(q, "success")
        search = (first(q, "search") or "").lower()
        tags = [t for t in (first(q, "tags") or "").split(",") if t]
        rows = []
        for result, run, moment in self._runs_now():
            keep = (
                (ids is None or run.id in ids)
                and (not result_ids or result.id in result_ids)
                and (not agents or result.agent in agents)
                and (not scenario_ids or run.scenario.id in scenario_ids)
                and (not personality_ids or run.personality.id in personality_ids)
                and (status is None or moment.status == status)
                and (not statuses or moment.status in statuses)
                and (success is None or moment.success is success)
                and (project is None or self._project(result.agent) == project)
                and (since is None or result.created_at >= since)
                and (until is None or result.created_at <= until)
                and (not search or search in run.scenario.name.lower())
                and (not tags or any(t in run.scenario.tags for t in tags))
            )
            if keep:
                rows.append((result, run, moment))
        return self._page(rows, req, lambda row: out.run_row(self.world, *row))

    def runs_bulk(self, req: Request) -> Reply:
        """GET /runs/bulk/?run_ids=1,2,3: the `Run` of each id found, in the order asked."""
        raw = (first(req.query, "run_ids") or "").strip()
        if not raw:
            return json_reply(400, {"run_ids": [REQUIRED]})
        if raw.startswith("["):
            return json_reply(
                400, {"run_ids": ["Give a comma-separated list of ids (1,2,3), not a JSON array."]}
            )
        try:
            wanted = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            return json_reply(400, {"run_ids": ["A valid integer is required."]})
        found = {run.id: (result, run, moment) for result, run, moment in self._runs_now()}
        answer = [out.run_bulk(self.world, *found[i]) for i in wanted if i in found]
        return json_reply(200, answer)

    def _runs_now(self) -> list[tuple[EmulatedResult, EmulatedRun, RunMoment]]:
        """Every run with its state now, newest first."""
        rows = [
            (result, run, moment)
            for result in self.ledger.results.values()
            for run, moment in zip(result.runs, self._moment(result).runs, strict=True)
        ]
        return sorted(rows, key=lambda row: -row[1].id)

    # --- scenarios, agents ------------------------------------------------------------------

    def _scenarios_for(self, agent: int | None, project: int | None) -> list[ScenarioSpec]:
        return [
            s
            for s in self.world.scenarios
            if (agent is None or s.agent == agent)
            and (project is None or self._project(s.agent) == project)
        ]

    def scenarios(self, req: Request) -> Reply:
        """GET /scenarios/: `agent_id`, `project_id`, `tags` + `tag_filter_type`, `folder_path`
        (a folder and its subfolders; empty: scenarios in no folder), paged."""
        q = req.query
        try:
            rows = self._scenarios_for(number_param(q, "agent_id"), number_param(q, "project_id"))
            how = choice_param(q, "tag_filter_type", TAG_FILTERS) or "or"
        except Invalid as exc:
            return json_reply(400, exc.detail)
        tags = [t.strip() for t in (first(q, "tags") or "").split(",") if t.strip()]
        if tags:
            if how == "and":
                rows = [s for s in rows if all(t in s.tags for t in tags)]
            elif how == "or":
                rows = [s for s in rows if any(t in s.tags for t in tags)]
            else:
                rows = [s for s in rows if not any(t in s.tags for t in tags)]
        folder = first(q, "folder_path")
        if folder is not None:
            rows = [s for s in rows if _in_folder(s.folder_path, folder.strip())]
        if first(q, "assistant_id"):
            rows = []  # no agent of the stand-in has an assistant id
        return self._page(rows, req, lambda s: out.scenario_row(self.world, s))

    def scenario(self, req: Request) -> Reply:
        key = req.params["id"]
        spec = self.world.scenario(int(key)) if key.isdigit() else None
        if spec is None:
            return detail(404, "No Scenario matches the given query.")
        return json_reply(200, out.scenario_detail(self.world, spec))

    def agent(self, req: Request) -> Reply:
        key = req.params["id"]
        agent = self.world.agent(int(key)) if key.isdigit() else None
        if agent is None:
            return detail(404, "No AIAgent matches the given query.")
        return json_reply(200, out.agent_detail(agent))

    # --- export, the JSON-spec run, billing -------------------------------------------------

    def export(self, req: Request) -> Reply:
        """GET …/export_scenarios/?scenario_ids=1,2&agent_id=42&export_type=json|csv."""
        q = req.query
        errors: dict[str, Any] = {}
        try:
            wanted = numbers_param(q, "scenario_ids")
        except Invalid as exc:
            errors.update(exc.detail)
            wanted = None
        if wanted is None and "scenario_ids" not in errors:
            errors["scenario_ids"] = [REQUIRED]
        try:
            agent = number_param(q, "agent_id")
            project = number_param(q, "project_id")
        except Invalid as exc:
            return json_reply(400, {**errors, **exc.detail})
        kind = first(q, "export_type") or "csv"
        try:
            choice(kind, EXPORT_TYPES)
        except Invalid as exc:
            errors["export_type"] = exc.detail
        if agent is None and project is None:
            errors["non_field_errors"] = ["Either agent_id or project_id is required."]
        if errors:
            return json_reply(400, errors)
        if kind == "xlsx":
            return json_reply(
                400, {"export_type": ["The stand-in writes csv and json exports, not xlsx."]}
            )
        specs = [s for s in self._scenarios_for(agent, project) if s.id in (wanted or [])]
        if not specs:
            return detail(404, "No scenarios found.")
        if kind == "json":
            owner = self.world.agent(specs[0].agent)
            name = f"{owner.agent_name if owner else 'Agent'} scenarios"
            return Reply(
                200,
                json.dumps(out.export_spec(self.world, specs, name), indent=2).encode(),
                headers={"Content-Disposition": 'attachment; filename="scenarios.json"'},
            )
        return Reply(
            200,
            out.export_csv(self.world, specs).encode(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="scenarios.csv"'},
        )

    def run_json(self, req: Request) -> Reply:
        """POST …/run_scenarios_json/: `dry_run=true` prices the spec; otherwise runs it."""
        try:
            run = json_spec_run(req.body, self.world)
        except Invalid as exc:
            return json_reply(400, exc.detail)
        known = {s.name: s for s in self.world.scenarios if s.agent == run.agent}
        overrides = [self.world.personality(i) for i in run.personality_ids or []]
        profiles = [self.world.test_profile(i) for i in run.test_profile_ids or []]
        plans = []
        for case in run.scenarios:
            spec = known.get(case.name) or self._spec_scenario(run.agent, case.name)
            own = self.world.personality(case.personality) if case.personality else None
            personalities: list[PersonalitySpec] = [p for p in overrides if p] or (
                [own] if own else [self.world.default_personality(spec)]
            )
            plans += expand(self.world, [spec], personalities, [p for p in profiles if p] or None)
        if bool_param(req.query, "dry_run"):
            return json_reply(
                200,
                out.dry_run_plan(
                    self.world,
                    agent=run.agent,
                    channel=run.channel,
                    name=run.name,
                    plans=plans,
                    frequency=run.frequency,
                ),
            )
        result = self.ledger.create(
            name=run.name,
            agent=run.agent,
            plans=plans,
            frequency=run.frequency,
            concurrency=None,
            settings={**run.settings, "mode": run.channel},
            now=self.now(),
            created_at=self.wall(),
            channel=run.channel,
        )
        req.created = result.id
        return json_reply(200, out.trigger_answer(result))

    def _spec_scenario(self, agent: int, name: str) -> ScenarioSpec:
        """A test case of a spec that matches no scenario of the agent: it runs, and passes."""
        spec = ScenarioSpec(id=self._next_spec_scenario, name=name, agent=agent)
        self._next_spec_scenario += 1
        return spec

    def billing(self, req: Request) -> Reply:
        return json_reply(200, out.billing_info(self.world, self.ledger.spent(), self.wall()))


def _in_folder(path: str | None, folder: str) -> bool:
    """Cekura's folders are dot-separated; a folder holds its subfolders' scenarios too."""
    if folder == "":
        return not path
    return path is not None and (path == folder or path.startswith(folder + "."))
