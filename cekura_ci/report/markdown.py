"""Markdown from a verdict: the job summary (under GitHub's 1 MiB step limit), the condensed
pull-request comment (under GitHub's 65,536-character limit), the error summary, console text."""

from __future__ import annotations

from dataclasses import dataclass

from cekura_ci import __version__
from cekura_ci.report.compared import comparison_view, history_view
from cekura_ci.report.templating import render
from cekura_ci.verdict import FAILED_KINDS, RunVerdict, ScenarioVerdict, Verdict

#: GitHub refuses a step summary above 1 MiB; leave room for anything appended around ours.
SUMMARY_LIMIT_BYTES = 1_000_000
#: GitHub refuses a comment body above 65,536 characters; the hidden marker goes in front of it.
COMMENT_LIMIT_CHARS = 65_536 - 200

DOCS_URL = "https://github.com/cekura-ci/cekura-ci#readme"

#: Alerts: GitHub shows `> [!WARNING]` as a titled box. Elsewhere (GitLab, IDE previews of
#: summary_file) the marker stays literal text, so each body starts with its own label that reads
#: right with or without GitHub's title.
ALERT_LABELS = {
    "cancelled": "🚫 **Cancelled.**",
    "timeout": "⏱️ **Timed out.**",
    "error": "⚠️ **Stopped early.**",
}


@dataclass(frozen=True)
class FailureGroup:
    """Runs of one scenario that failed the same way, shown once: "3 runs: failed metric X"."""

    scenario: ScenarioVerdict
    runs: tuple[RunVerdict, ...]

    @property
    def first(self) -> RunVerdict:
        return self.runs[0]


def _signature(run: RunVerdict) -> tuple[object, ...]:
    return (
        run.kind,
        run.reason,
        run.error_message,
        tuple(m.name for m in run.failed_metrics),
        tuple(run.failed_expectations),
    )


def failure_groups(verdict: Verdict) -> list[FailureGroup]:
    """Failing runs grouped by scenario and by how they failed, in the scenarios' order."""
    groups: list[FailureGroup] = []
    for scenario in verdict.scenarios:
        by_signature: dict[tuple[object, ...], list[RunVerdict]] = {}
        for run in scenario.runs:
            if run.kind in FAILED_KINDS:
                by_signature.setdefault(_signature(run), []).append(run)
        groups += [FailureGroup(scenario, tuple(runs)) for runs in by_signature.values()]
    return groups


@dataclass(frozen=True)
class Detail:
    """How much of the verdict one rendering shows; the ladder below sheds it in order."""

    transcripts: bool
    failure_groups: int
    passing_rows: bool
    rows: int | None
    metrics: bool = True


# Transcripts go first, then most per-run detail, then passing rows, then everything but the
# headline, the totals, the rules and the footer, which every rung keeps.
DETAIL_LADDER = (
    Detail(transcripts=True, failure_groups=100, passing_rows=True, rows=None),
    Detail(transcripts=False, failure_groups=100, passing_rows=True, rows=None),
    Detail(transcripts=False, failure_groups=20, passing_rows=True, rows=None),
    Detail(transcripts=False, failure_groups=20, passing_rows=False, rows=None),
    Detail(transcripts=False, failure_groups=0, passing_rows=False, rows=500),
    Detail(transcripts=False, failure_groups=0, passing_rows=False, rows=0, metrics=False),
)


def _common(verdict: Verdict) -> dict[str, object]:
    return {
        "verdict": verdict,
        "alert_label": ALERT_LABELS.get(verdict.outcome.value, "⚠️ **Note.**"),
        "version": __version__,
    }


def _render(verdict: Verdict, detail: Detail) -> str:
    full = DETAIL_LADDER[0]
    scenarios = verdict.scenarios
    shown = scenarios if detail.passing_rows else [s for s in scenarios if s.state != "passed"]
    if detail.rows is not None:
        shown = shown[: detail.rows]
    groups = failure_groups(verdict)
    shown_groups = groups[: detail.failure_groups]

    # What this rendering leaves out compared with the full one, to stay under the limit.
    omitted = []
    if not detail.transcripts and any(
        g.first.transcript_tail for g in groups[: full.failure_groups]
    ):
        omitted.append("call transcripts")
    if len(shown_groups) < len(groups[: full.failure_groups]):
        omitted.append(
            f"details of {len(groups[: full.failure_groups]) - len(shown_groups)} kinds of failure"
        )
    if len(shown) < len(scenarios):
        omitted.append(f"{len(scenarios) - len(shown)} scenario rows")
    if not detail.metrics and verdict.metrics:
        omitted.append("the metrics table")
    return render(
        "summary.md.j2",
        **_common(verdict),
        scenarios=shown,
        groups=shown_groups,
        hidden_groups=len(groups) - len(shown_groups),
        unfinished=_unfinished_by_scenario(verdict) if detail.rows is None else [],
        show_transcripts=detail.transcripts,
        metrics=verdict.metrics[:200] if detail.metrics else [],
        omitted=omitted,
        compared=comparison_view(
            verdict, groups, rows=detail.rows, details=detail.failure_groups > 0, heading="###"
        ),
        history_view=history_view(verdict, rows=detail.rows),
    )


def _unfinished_by_scenario(verdict: Verdict) -> list[tuple[ScenarioVerdict, list[RunVerdict]]]:
    return [
        (s, [r for r in s.runs if r.kind == "unfinished"])
        for s in verdict.scenarios
        if s.unfinished
    ]


def render_summary(verdict: Verdict, limit: int = SUMMARY_LIMIT_BYTES) -> str:
    """The richest rendering that fits in `limit` bytes; the last rung keeps only the headline,
    totals, rules and footer, all bounded, so it always fits the real limit."""
    for detail in DETAIL_LADDER:
        text = _render(verdict, detail)
        if len(text.encode("utf-8")) <= limit:
            return text
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


#: The comment's scenario table: failing rows first; fewer rows until the body fits.
COMMENT_ROWS = (50, 20, 5, 0)


def render_comment(verdict: Verdict, run_url: str | None, limit: int = COMMENT_LIMIT_CHARS) -> str:
    """The condensed verdict for a pull-request comment: headline, totals, the scenarios that did
    not pass, and a link to the full job summary. Always under `limit` characters."""
    not_passed = [s for s in verdict.scenarios if s.state != "passed"]
    for rows in COMMENT_ROWS:
        text = render(
            "comment.md.j2",
            **_common(verdict),
            scenarios=not_passed[:rows],
            hidden_rows=len(not_passed) - min(rows, len(not_passed)),
            run_url=run_url,
            compared=comparison_view(verdict, [], rows=rows, details=False, heading="####"),
        )
        if len(text) <= limit:
            return text
    return text[:limit]


def render_error(
    message: str,
    *,
    result_id: int | None = None,
    hint: str | None = None,
    heading: str = "##",
    run_url: str | None = None,
) -> str:
    """Why the gate stopped without a verdict, and what to do next: each said once."""
    return render(
        "error.md.j2",
        message=message,
        result_id=result_id,
        hint=hint,
        heading=heading,
        run_url=run_url,
        version=__version__,
        docs=DOCS_URL,
    )


def render_error_comment(message: str, *, hint: str | None, run_url: str | None) -> str:
    """The error summary as a pull-request comment, so an earlier verdict is not left standing."""
    return render_error(message, hint=hint, heading="###", run_url=run_url)[:COMMENT_LIMIT_CHARS]


def render_console(verdict: Verdict) -> str:
    return render("console.txt.j2", verdict=verdict)
