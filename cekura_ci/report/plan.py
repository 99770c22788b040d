"""Markdown for a run that was planned and not started: a dry run's plan, or nothing to re-run.

Pure: a PlanView in, Markdown out, rendered with the same environment and escaping as the verdict
(every value escaped unless marked safe; the request body in a code block no text can close).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup

from cekura_ci import __version__
from cekura_ci.report.templating import render

#: Scenario rows shown at most; the body shown at most (the log has it whole). Together they keep
#: the summary far below GitHub's 1 MiB.
MAX_ROWS = 500
MAX_BODY_CHARS = 60_000


@dataclass(frozen=True)
class PlanRow:
    scenario: int
    name: str | None
    #: What chose it: `scenario_ids`, `scenario_tags`, `<file> entry 3`, …
    by: str
    message: bool


@dataclass(frozen=True)
class PlanView:
    agent_id: int | None
    agent_name: str | None
    rows: list[PlanRow]
    searched: str
    nothing_to_run: str | None
    calls: int
    arithmetic: str
    max_runs: int
    estimated_cost: str | None
    currency: str
    no_estimate: str | None
    credits_left: str | None
    no_credits: str | None
    body: str
    endpoint: str
    notes: list[str] = field(default_factory=list)


def code_block(text: str, language: str = "") -> Markup:
    """A fenced code block whose fence is longer than any run of backticks in `text`, so nothing
    in it can end the block: inside, Markdown and HTML are shown, never read."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup(f"{fence}{language}\n{text}\n{fence}")  # noqa: S704 (shown, never read)


def render_plan(view: PlanView) -> str:
    body = view.body[:MAX_BODY_CHARS]
    return render(
        "plan.md.j2",
        plan=view,
        rows=view.rows[:MAX_ROWS],
        hidden_rows=max(0, len(view.rows) - MAX_ROWS),
        body=code_block(body, "json"),
        body_clipped=len(view.body) > MAX_BODY_CHARS,
        version=__version__,
    )
