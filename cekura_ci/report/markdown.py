"""The job summary: one Markdown page per verdict, always under GitHub's 1 MiB step limit."""

from __future__ import annotations

from dataclasses import dataclass

from cekura_ci import __version__
from cekura_ci.report.templating import render
from cekura_ci.verdict import Verdict

#: GitHub refuses a step summary above 1 MiB; leave room for anything appended around ours.
SUMMARY_LIMIT_BYTES = 1_000_000


@dataclass(frozen=True)
class Detail:
    """How much of the verdict one rendering shows; the ladder below sheds it in order."""

    transcripts: bool
    failed_runs: int
    passing_rows: bool
    rows: int | None
    metrics: bool = True


# Transcripts go first, then most per-run detail, then passing rows, then everything but totals.
DETAIL_LADDER = (
    Detail(transcripts=True, failed_runs=100, passing_rows=True, rows=None),
    Detail(transcripts=False, failed_runs=100, passing_rows=True, rows=None),
    Detail(transcripts=False, failed_runs=20, passing_rows=True, rows=None),
    Detail(transcripts=False, failed_runs=20, passing_rows=False, rows=None),
    Detail(transcripts=False, failed_runs=0, passing_rows=False, rows=500),
    Detail(transcripts=False, failed_runs=0, passing_rows=False, rows=0, metrics=False),
)


def _render(verdict: Verdict, detail: Detail) -> str:
    full = DETAIL_LADDER[0]
    scenarios = verdict.scenarios
    shown = scenarios if detail.passing_rows else [s for s in scenarios if s.state != "passed"]
    if detail.rows is not None:
        shown = shown[: detail.rows]
    failed = verdict.failed_run_verdicts
    shown_failed = failed[: detail.failed_runs]

    # What this rendering leaves out compared with the full one, to stay under the limit.
    omitted = []
    if not detail.transcripts and any(r.transcript_tail for r in failed[: full.failed_runs]):
        omitted.append("call transcripts")
    if len(shown_failed) < len(failed[: full.failed_runs]):
        omitted.append(
            f"details of {len(failed[: full.failed_runs]) - len(shown_failed)} failing runs"
        )
    if len(shown) < len(scenarios):
        omitted.append(f"{len(scenarios) - len(shown)} scenario rows")
    if not detail.metrics and verdict.metrics:
        omitted.append("the metrics table")
    return render(
        "summary.md.j2",
        verdict=verdict,
        scenarios=shown,
        failed_runs=shown_failed,
        hidden_failed_runs=len(failed) - len(shown_failed),
        show_transcripts=detail.transcripts,
        metrics=verdict.metrics[:200] if detail.metrics else [],
        omitted=omitted,
        version=__version__,
    )


def render_summary(verdict: Verdict, limit: int = SUMMARY_LIMIT_BYTES) -> str:
    """The richest rendering that fits in `limit` bytes."""
    for detail in DETAIL_LADDER:
        text = _render(verdict, detail)
        if len(text.encode("utf-8")) <= limit:
            return text
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


DOCS_URL = "https://github.com/cekura-ci/cekura-ci#readme"


def render_error(message: str, *, result_id: int | None = None, hint: str | None = None) -> str:
    return render(
        "error.md.j2",
        message=message,
        result_id=result_id,
        hint=hint,
        version=__version__,
        docs=DOCS_URL,
    )


def render_console(verdict: Verdict) -> str:
    return render("console.txt.j2", verdict=verdict)
