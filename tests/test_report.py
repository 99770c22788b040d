"""Reports rendered from the verdict: Markdown summary, console text, JUnit XML, JSON."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from cekura_ci.report.json_report import render_json
from cekura_ci.report.junit import render_junit, seconds
from cekura_ci.report.markdown import (
    SUMMARY_LIMIT_BYTES,
    render_console,
    render_error,
    render_summary,
)
from cekura_ci.verdict import SCHEMA_VERSION, Policy, judge
from tests.factories import result, run, runs_for

JUNIT_XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd")
HOSTILE = "Evil | <img src=x onerror=alert(1)> `code` **bold** [link](https://evil.example) @team #1\n## Heading\n::error::pwned"


def table_rows(markdown: str, header: str) -> list[list[str]]:
    """Cells of the Markdown table that follows `header`, split on unescaped pipes."""
    block = markdown.split(header, 1)[1].strip().split("\n\n")[0]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]


def test_summary_when_gate_fails_shows_headline_totals_scenarios_and_reasons() -> None:
    """Headline with the rate and threshold, totals, a scenario table, and why each run failed."""
    v = judge(result(runs_for({101: "ppp", 102: "pfe"})), Policy(pass_threshold=90))
    md = render_summary(v)
    assert md.startswith("## ❌ Cekura gate failed: 66.67% of runs passed (threshold 90%)")
    assert "| 6 | 4 | 1 | 1 | 66.67% | 90% |" in md
    rows = table_rows(md, "### Scenarios")
    assert [row[1].strip() for row in rows] == ["Scenario 102 *(flaky)*", "Scenario 101"]
    assert rows[0][3].strip() == "1/3"
    assert (
        "Booking confirmed" in md
        and "❌ Did not confirm the booking" in md
        and "SIP 503: callee unreachable" in md
    )
    assert "<details><summary>❌ Scenario 102" in md and "<details><summary>🔌 Scenario 102" in md


def test_summary_when_gate_passes_says_so() -> None:
    md = render_summary(judge(result(runs_for({101: "pp"})), Policy()))
    assert md.startswith("## ✅ Cekura gate passed: 100.00% of runs passed (threshold 100%)")
    assert "### Why runs failed" not in md


def test_summary_when_api_text_is_hostile_neither_injects_markup_nor_breaks_tables() -> None:
    """Names, errors and explanations from the API are escaped wherever they appear."""
    runs = [
        run(
            1,
            name=HOSTILE,
            outcome="fail",
            error_message=HOSTILE,
            evaluation={
                "metrics": [
                    {"name": HOSTILE, "type": "binary", "score": 0, "explanation": [HOSTILE]}
                ]
            },
            expected_outcome={"explanation": ["❌ " + HOSTILE]},
            transcript_object=[{"role": HOSTILE, "content": "</pre><script>alert(1)</script>"}],
        ),
    ]
    md = render_summary(judge(result(runs, name=HOSTILE), Policy()))
    raw_html = re.findall(
        r"(?<!\\)<(?:img|script|/pre><)", md
    )  # "\<img" is literal text in Markdown
    assert raw_html == []
    assert "](https://evil" not in md and "\n## Heading" not in md and "\n::error" not in md
    # No mentions and no issue links if the summary is posted as a comment.
    assert re.findall(r"(?<![\\;])@team|(?<![\\;])#1\b", md) == []
    for header in ("### Scenarios", "### Metrics"):
        assert all(
            len(row) == 6 if header == "### Scenarios" else len(row) == 5
            for row in table_rows(md, header)
        )


def test_summary_when_result_is_huge_stays_under_the_limit_and_says_what_was_left_out() -> None:
    """10,000 runs (100 scenarios × frequency 100), all failing with long text: still under 1 MiB."""
    long = "x" * 2000
    runs = [
        run(
            i,
            scenario=100 + i % 100,
            outcome="fail",
            name=f"Scenario {i % 100} " + "n" * 200,
            error_message=long,
            transcript_object=[{"role": "Main Agent", "content": long}] * 6,
        )
        for i in range(1, 10_001)
    ]
    md = render_summary(judge(result(runs), Policy()))
    assert len(md.encode()) <= SUMMARY_LIMIT_BYTES
    assert "## ❌ Cekura gate failed" in md and "| 10000 | 0 | 10000 | 0 |" in md
    assert len(table_rows(md, "### Scenarios")) == 100
    assert "…and 9900 more failing runs: see the result in Cekura." in md


def test_summary_when_small_leaves_nothing_out() -> None:
    md = render_summary(judge(result(runs_for({101: "pf"})), Policy()))
    assert "Left out" not in md and "End of the call" in md


def test_summary_when_limit_is_tight_sheds_transcripts_before_rows() -> None:
    """Transcripts go first; the scenario table stays."""
    v = judge(result(runs_for({101: "ffff", 102: "pppp"})), Policy())
    full = render_summary(v)
    smaller = render_summary(v, limit=len(full.encode()) - 1)
    assert "End of the call" in full and "End of the call" not in smaller
    assert "Scenario 102" in smaller and "call transcripts" in smaller


def test_error_summary_when_rendered_names_the_result_to_look_for() -> None:
    md = render_error("Cekura was unreachable.", result_id=12)
    assert "could not run" in md and "result_id" in md and "12" in md


def test_console_when_rendered_lists_scenarios_plainly() -> None:
    text = render_console(judge(result(runs_for({101: "pf", 102: "pp"})), Policy()))
    assert text.startswith("FAILED: 75.00% of runs passed (threshold 100%)")
    assert "FLAKY 1/2  Scenario 101 [101]" in text and "PASS  2/2  Scenario 102 [102]" in text


def test_junit_when_runs_fail_is_valid_with_failures_and_errors() -> None:
    """One testcase per run; agent failures are <failure>, infrastructure failures <error>."""
    xml = render_junit(judge(result(runs_for({101: "pfe"})), Policy()))
    JUNIT_XSD.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert (
        suite is not None
        and suite.get("tests") == "3"
        and suite.get("failures") == "1"
        and suite.get("errors") == "1"
    )
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["Scenario 101 [101] #1", "Scenario 101 [101] #2", "Scenario 101 [101] #3"]
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "failed metric: Booking confirmed"
    assert "Did not confirm the booking" in (failure.text or "")


def test_junit_when_text_has_illegal_characters_makes_them_visible() -> None:
    """Control characters XML cannot hold are shown as \\xNN, and the file stays valid."""
    xml = render_junit(
        judge(result([run(1, outcome="error", error_message="bad\x00byte\x1b[31m")]), Policy())
    )
    JUNIT_XSD.validate(xml)
    assert "bad\\x00byte\\x1b[31m" in xml


@pytest.mark.parametrize(
    ("text", "expected"), [("01:30", 90), ("1:02:03", 3723), ("", 0), ("n/a", 0), (None, 0)]
)
def test_duration_when_mmss_is_read_as_seconds(text: str | None, expected: float) -> None:
    assert seconds(text) == expected


def test_json_report_when_rendered_is_the_versioned_verdict() -> None:
    v = judge(result(runs_for({101: "pf"})), Policy(pass_threshold=50))
    data = json.loads(render_json(v))
    assert data["schema_version"] == SCHEMA_VERSION and data["outcome"] == "passed"
    assert data["scenarios"][0]["runs"][1]["failed_metrics"][0]["name"] == "Booking confirmed"


def test_summary_when_rows_must_go_drops_passing_rows_before_failing_ones() -> None:
    """Past transcripts and run details, passing scenarios leave the table first, and it says so."""
    v = judge(result(runs_for({**{100 + i: "p" for i in range(60)}, 999: "f"})), Policy())
    full = render_summary(v)
    without_passing = len(full.encode()) - 60 * 40  # roughly the passing rows' share
    md = render_summary(v, limit=without_passing)
    rows = table_rows(md, "### Scenarios")
    assert [row[2].strip() for row in rows] == ["999"]
    assert "60 scenario rows" in md
