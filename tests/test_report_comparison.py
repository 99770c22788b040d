"""The comparison and the history in the reports, rendered the way GitHub renders them: regressions
first with why they failed, no markup or mention from API text, Mermaid that API text cannot
leave, and every report under its size limit."""

from __future__ import annotations

import datetime as dt
import json
import re

from cekura_ci.comparison import Baseline
from cekura_ci.gating import baseline_of, compared, decide, outcomes, point
from cekura_ci.publish import redacted
from cekura_ci.report.compared import mermaid_label, pass_rate_chart
from cekura_ci.report.json_report import render_json
from cekura_ci.report.markdown import (
    COMMENT_LIMIT_CHARS,
    render_comment,
    render_console,
    render_summary,
)
from cekura_ci.trend import build_history
from cekura_ci.verdict import Policy, Verdict, judge
from tests import gfm
from tests.factories import result, run, runs_for

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
HOSTILE = "Evil | <img src=x> `c` **b** [l](https://evil.example) @team #1 ##[error] ::x::"


def main_verdict(pattern: dict[int, str], **extra: object) -> Verdict:
    return judge(
        result(
            runs_for(pattern, start=100),
            id=812,
            name="cekura-ci · acme/app · main · abc1234 · run 1.1 · gate · 0a0b0c",
            created_at="2026-05-30T12:00:00Z",
            **extra,
        ),
        Policy(),
    )


def with_comparison(
    now: Verdict, base: Baseline, gate_on: str = "auto", history: list[Verdict] | None = None
) -> Verdict:
    decided = decide(
        now,
        compared(now, base, regression_max_p=None, as_of=NOW, max_age_days=14),
        gate_on,
    )
    if history is None:
        return decided
    snapshots = [(point(v), outcomes(v)) for v in history]
    snapshots.append((point(now, now=True), outcomes(now)))
    return decided.model_copy(update={"history": build_history(base.branch or "main", snapshots)})


def base_of(pattern: dict[int, str], **extra: object) -> Baseline:
    return baseline_of(
        main_verdict(pattern, **extra), source="auto", branch="main", commit="abc1234"
    )


def regressed_demo() -> Verdict:
    """103 regressed (3/3 → 0/3), 104 failed before and now, 105 fixed, 106 new, 107 gone."""
    now = judge(
        result(runs_for({101: "ppp", 103: "fff", 104: "fff", 105: "ppp", 106: "pp"})), Policy()
    )
    base = base_of({101: "ppp", 103: "ppp", 104: "fff", 105: "fpf", 107: "ppp"})
    return with_comparison(now, base, history=[main_verdict({101: "ppp", 103: "ppp"})])


def test_summary_when_compared_lists_regressions_first_with_why_they_failed() -> None:
    md = render_summary(regressed_demo())
    html = gfm.render(md)
    assert md.startswith(
        "## ❌ Cekura gate failed: 1 scenario regressed against main (result 812, abc1234, 2 days old)"
    )
    [table] = [t for t in gfm.tables(html) if t[0][:4] == ["", "Scenario", "ID", "Baseline"]]
    assert [(row[0], row[2], row[3], row[4]) for row in table[1:]] == [
        ("❌ regressed", "103", "3/3", "0/3"),
        ("✅ fixed", "105", "1/3", "3/3"),
        ("⚠️ still failing", "104", "0/3", "0/3"),
        ("🆕 new", "106", "–", "2/2"),
        ("➖ not run now", "107", "3/3", "–"),
    ]
    section = md.split("### Compared with main", 1)[1].split("### Scenarios", 1)[0]
    assert (
        "<details><summary>❌ Scenario 103 regressed — failed metric: Booking confirmed" in section
    )
    assert "- ❌ Did not confirm the booking" in section
    assert (
        "❌ 1 regressed · ✅ 1 fixed · ⚠️ 1 still failing · 🆕 1 new · ➖ 1 not run now" in section
    )


def test_summary_when_compared_shows_history_strip_and_chart() -> None:
    md = render_summary(regressed_demo())
    [strip] = [t for t in gfm.tables(gfm.render(md)) if t[0][0] == "Scenario" and "Now" in t[0]]
    assert strip[1:3] == [["Scenario 103", "103", "✅", "❌"], ["Scenario 104", "104", "➖", "❌"]]
    chart = md.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert chart.splitlines() == [
        "xychart-beta",
        '    title "Pass rate on main, in percent"',
        '    x-axis ["812", "now"]',
        '    y-axis "Pass rate" 0 --> 100',
        "    line [100.0, 57.1]",
    ]


def test_summary_when_api_text_is_hostile_it_stays_text_everywhere_in_the_comparison() -> None:
    """Scenario and result names from the API cannot add markup, mentions, links or commands."""
    now = judge(result([run(1, 9, "fail", name=HOSTILE)]), Policy())
    base = baseline_of(
        judge(result([run(2, 9, name=HOSTILE)], id=812, name=HOSTILE), Policy()),
        source="result",
        branch="@octocat/**x**",
    )
    md = render_summary(with_comparison(now, base, history=[]))
    html = gfm.render(md)
    assert gfm.later_links(html) == []
    # The URL in the text is a plain link to itself; the API's own Markdown link is not a link.
    assert {(href, text) for href, text in gfm.links(html) if "evil" in href} == {
        ("https://evil.example", "https://evil.example")
    }
    assert "<img" not in html and "<strong>b</strong>" not in html
    assert "\n::" not in md and "##[error]" not in md.replace("\\#\\#\\[error\\]", "")
    assert "regressed against the baseline (result 812" in md  # the branch is no headline text
    for table in gfm.tables(html):
        assert len({len(row) for row in table}) == 1  # no cell split a row


def test_chart_when_the_branch_is_hostile_cannot_leave_its_block() -> None:
    """Mermaid labels are ours: a branch with quotes, fences, %% and entities is cut to plain text."""
    now = judge(result(runs_for({1: "pp"})), Policy())
    earlier = main_verdict({1: "pf"})
    hostile = 'x"]\n```\n%%{init}%% #35; <b>@team</b>'
    history = build_history(
        hostile, [(point(earlier), outcomes(earlier)), (point(now, now=True), outcomes(now))]
    )
    chart = pass_rate_chart(history)
    assert chart is not None and chart.count("```") == 2
    body = chart.splitlines()[1:-1]
    assert all(re.fullmatch(r'[A-Za-z0-9 ._/",\[\]>-]*', line) for line in body), body
    assert mermaid_label(hostile) == "xinit 35 bteam/b"


def test_summary_when_no_baseline_was_found_says_so_in_a_note() -> None:
    verdict = judge(result(runs_for({1: "p"})), Policy()).model_copy(
        update={"baseline_notes": ["No baseline: none on main @team. The thresholds decide."]}
    )
    md = render_summary(verdict)
    assert "### Compared with the base branch" in md
    [(kind, text)] = gfm.alerts(md)
    assert kind == "NOTE" and text.startswith("ℹ️ No baseline: none on main")
    assert gfm.later_links(gfm.render(md)) == []


def test_summary_when_the_baseline_is_old_warns() -> None:
    now = judge(result(runs_for({101: "ppp"})), Policy())
    base = base_of({101: "ppp"}).model_copy(update={"created_at": NOW - dt.timedelta(days=30)})
    md = render_summary(with_comparison(now, base))
    assert (
        "WARNING",
        "⚠️ **Old baseline.** It is 30 days old, older than baseline\\_max\\_age\\_days (14); it was used anyway. Run the gate on main again to refresh it.",
    ) in gfm.alerts(md)


def test_summary_when_huge_stays_under_the_limit_and_keeps_the_headline() -> None:
    """800 regressed scenarios with long names: shed like the rest, never over the limit."""
    long = "L" * 300
    now = judge(result([run(i, i, "fail", name=f"{long} {i}") for i in range(1, 801)]), Policy())
    base = baseline_of(
        judge(result([run(10_000 + i, i, name=f"{long} {i}") for i in range(1, 801)]), Policy()),
        source="result",
        branch="main",
    )
    verdict = with_comparison(now, base, history=[])
    md = render_summary(verdict, limit=60_000)
    assert len(md.encode()) <= 60_000
    assert md.startswith("## ❌ Cekura gate failed: 800 scenarios regressed against main")
    comment = render_comment(verdict, None)
    assert len(comment) <= COMMENT_LIMIT_CHARS and "800 scenarios regressed" in comment


def test_comment_when_compared_names_the_regressions() -> None:
    comment = render_comment(regressed_demo(), "https://github.com/acme/app/actions/runs/1")
    assert "#### Compared with main" in comment
    assert "| ❌ regressed | Scenario 103 | 103 | 3/3 | 0/3 | 0.05 |" in comment
    assert "### History" not in comment and "<details>" not in comment.split("Compared", 1)[1]


def test_console_when_compared_names_regressions_before_the_scenarios() -> None:
    text = render_console(regressed_demo())
    assert text.index("REGRESSED Scenario 103 [103]") < text.index("FAIL  0/3  Scenario 103")
    assert "compared with main (result 812): 1 regressed · 1 fixed · 1 still failing" in text


def test_json_report_when_compared_holds_the_comparison_and_history_in_schema_1() -> None:
    verdict = regressed_demo()
    report = json.loads(render_json(verdict))
    assert report["schema_version"] == 1
    assert report["comparison"]["baseline"]["result_id"] == 812
    assert [s["classification"] for s in report["comparison"]["scenarios"]][:2] == [
        "regressed",
        "fixed",
    ]
    assert report["history"]["points"][-1]["now"] is True
    # Redaction round-trips the verdict through JSON: nothing of the comparison is lost.
    secret = "ck_live_secret_value_1234"
    leaked = verdict.model_copy(update={"baseline_notes": [f"key {secret}"]})
    clean = redacted(leaked, [secret])
    assert clean.comparison == verdict.comparison and secret not in clean.model_dump_json()
