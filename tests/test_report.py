"""Reports rendered from the verdict: Markdown summary, console text, JUnit XML, JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from cekura_ci import __version__
from cekura_ci.errors import Outcome
from cekura_ci.report.json_report import render_json
from cekura_ci.report.markdown import (
    SUMMARY_LIMIT_BYTES,
    render_comment,
    render_console,
    render_error,
    render_summary,
)
from cekura_ci.report.templating import WORD_JOINER
from cekura_ci.verdict import SCHEMA_VERSION, Policy, judge
from tests import gfm
from tests.factories import result, run, runs_for
from tests.test_verdict import interrupted_result

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
            error_message=f"{i} {long}",
            transcript_object=[{"role": "Main Agent", "content": long}] * 6,
        )
        for i in range(1, 10_001)
    ]
    md = render_summary(judge(result(runs), Policy()))
    assert len(md.encode()) <= SUMMARY_LIMIT_BYTES
    assert "## ❌ Cekura gate failed" in md and "| 10000 | 0 | 10000 | 0 |" in md
    assert len(table_rows(md, "### Scenarios")) == 100
    assert "…and 9900 more kinds of failure: see the result in Cekura." in md


def test_summary_when_small_leaves_nothing_out() -> None:
    md = render_summary(judge(result(runs_for({101: "pf"})), Policy()))
    assert "Left out" not in md and "End of the call" in md


def test_summary_when_limit_is_tight_sheds_transcripts_before_rows() -> None:
    """Transcripts go first; the scenario table stays."""
    talk = [{"role": "Main Agent", "content": "x" * 400}] * 6
    runs = [run(i, 101, "fail", transcript_object=talk) for i in range(1, 5)]
    v = judge(result(runs + runs_for({102: "pppp"}, start=5)), Policy())
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


SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text())


def assert_matches_the_published_schema(report: dict) -> None:
    """docs/report.schema.json, which the README publishes, holds every report we write."""
    Draft202012Validator(SCHEMA).validate(report)


@pytest.mark.parametrize(
    "verdict",
    [
        judge(result(runs_for({101: "ppp", 102: "pfe"})), Policy(scenario_pass_threshold=50)),
        judge(interrupted_result(), Policy(), interruption=(Outcome.TIMEOUT, "timed out")),
        judge(None, Policy(), result_id=5, interruption=(Outcome.ERROR, "down")),
    ],
    ids=["judged", "interrupted", "nothing-seen"],
)
def test_json_report_when_written_matches_the_published_schema(verdict) -> None:
    assert_matches_the_published_schema(json.loads(render_json(verdict)))


def test_json_report_fields_when_listed_in_the_readme_are_all_in_the_schema() -> None:
    """Every field the README names for the JSON report is a property of the published schema."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("The JSON report (`report_file`)", 1)[1].split("\n### ", 1)[0]
    named = set(re.findall(r"`([a-z_0-9]+)`", section))
    properties = set(SCHEMA["properties"])
    for definition in SCHEMA["$defs"].values():
        properties |= set(definition.get("properties", {}))
    values = {"auto", "result", "file", "passed", "failed", "flaky", "unfinished", "agent_failure",
              "infra_failure", "regressed", "fixed", "still_failing", "within_noise", "new",
              "not_run", "still_passing", "report_file", "baseline"}  # fmt: skip
    assert named - values <= properties, sorted(named - values - properties)


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


# --- as GitHub renders it (cmark-gfm with GitHub's extensions, then its mention pass) ----------

URL = "https://ci.example.com/build-voice_agent/12?a=1&b=2"


def failing_run_with(text: str, run_id: int = 1, **extra: object) -> dict:
    return run(
        run_id,
        name=f"Scenario {text}",
        outcome="fail",
        error_message=f"Deploy failed: {text}",
        evaluation={"metrics": [{"name": text, "type": "binary", "score": 0}]},
        expected_outcome={"explanation": [f"❌ {text}"]},
        **extra,
    )


def test_summary_when_api_text_has_urls_links_them_without_backslashes() -> None:
    """cmark-gfm keeps backslash escapes inside autolinked URLs; ours are clean links instead."""
    md = render_summary(judge(result([failing_run_with(f"see {URL}.")]), Policy()))
    html = gfm.render(md)
    found = gfm.links(html)
    assert found and all(href == URL for href, _ in found)
    assert all("\\" not in text and text == URL for _, text in found)
    assert "%5C" not in html


def test_summary_when_urls_carry_markup_it_stays_text_and_tables_stay_whole() -> None:
    """A URL cannot end its link early, open another, inject HTML or split a table cell."""
    hostile = "https://x.example/a|b)](javascript:alert(1))<script>alert(1)</script>"
    md = render_summary(judge(result([failing_run_with(hostile)]), Policy()))
    html = gfm.render(md)
    assert "<script>" not in html
    assert not [href for href, _ in gfm.links(html) if not href.startswith("https://x.example/")]
    assert all(href.startswith("https://x.example/a%7Cb") for href, _ in gfm.links(html))
    scenarios = gfm.tables(html)[1]
    assert all(len(row) == 6 for row in scenarios)


def test_summary_when_api_text_mentions_people_or_issues_github_links_nothing() -> None:
    """`@octocat`, `#12`, `GH-7`, `org/repo#3` and e-mail addresses read as text, link nothing."""
    text = "ask @octocat or @acme/voice-team about #12, GH-7, acme/agent#3 and ops@acme.example"
    runs = [
        failing_run_with(text, transcript_object=[{"role": "@octocat", "content": text}]),
        run(2, 102, "error", error_message=text, name="Noisy #9 @ops"),
    ]
    md = render_summary(judge(result(runs, name=text), Policy()))
    html = gfm.render(md)
    assert gfm.later_links(html) == []
    assert not [href for href, _ in gfm.links(html) if href.startswith("mailto:")]
    readable = html.replace(WORD_JOINER, "")
    assert "ask @octocat or @acme/voice-team about #12, GH-7" in readable


def test_summary_when_gh_follows_a_letter_after_a_repository_links_no_issue() -> None:
    """`acme/agentGH-5` is GitHub's cross-repository reference to acme/agent#5 (a backlink
    in that repository's issue); the joiner once went only after a `gh-` that starts a word."""
    text = "see acme/agentGH-5 and www.e.com/x_yGH-3"
    md = render_summary(judge(result([run(1, 101, "error", error_message=text)]), Policy()))
    assert gfm.later_links(gfm.render(md)) == []
    assert (
        gfm.later_links(
            gfm.render(
                render_comment(
                    judge(result([run(1, 101, "error", error_message=text)]), Policy()), None
                )
            )
        )
        == []
    )


def test_mention_check_when_text_is_not_protected_finds_the_links() -> None:
    """The check above would catch a mention: plain and backslash-escaped forms both link."""
    html = gfm.render("ask \\@octocat about \\#12 and GH-7")
    assert gfm.later_links(html) == ["@octocat", "#12", "#7"]


def test_summary_when_rendered_keeps_every_table_whole() -> None:
    """Totals, rules and scenarios render as tables with every row the width of the header."""
    v = judge(
        result(runs_for({101: "ppf", 102: "pe", 103: "p"})),
        Policy(pass_threshold=90, scenario_pass_threshold=50),
    )
    tables = gfm.tables(gfm.render(render_summary(v)))
    assert [len(t[0]) for t in tables[:3]] == [6, 3, 6]
    assert all(len(row) == len(t[0]) for t in tables for row in t)
    assert tables[0][1] == ["6", "4", "1", "1", "66.67%", "90%"]


def test_summary_when_interrupted_says_what_happened_what_finished_and_what_did_not() -> None:
    """Timed out with 9 of 15 runs done: no 0% headline, unfinished runs listed once, apart."""
    v = judge(
        interrupted_result(),
        Policy(pass_threshold=90),
        interruption=(Outcome.TIMEOUT, "Result 77 was still running after 1h00m."),
    ).model_copy(update={"notes": ["The result did not finish within the 3600s timeout."]})
    md = render_summary(v)
    assert md.startswith(
        "## ⏱️ Cekura gate timed out: 9 of 15 runs had finished (7 passed, 2 failed)\n"
    )
    assert "when the result ended" not in md and "did not finish (still" not in md
    html = gfm.render(md)
    totals = gfm.tables(html)[0]
    assert totals[0][4:6] == ["⏳ Not finished", "Pass rate (finished runs)"]
    assert totals[1][:6] == ["15", "7", "2", "0", "6", "77.78%"]
    why = md.split("### Why runs failed", 1)[1].split("### Not finished", 1)[0]
    assert why.count("<details>") == 2 and "not finished" not in why
    not_finished = gfm.tables(html)[-2]
    assert [row[0] for row in not_finished[1:]] == ["Scenario 103", "Scenario 105", "Scenario 104"]
    assert not_finished[2][2:] == ["1, 2, 3", "in_queue, running, scaling_up"]
    assert gfm.alerts(md) == [
        ("WARNING", "⏱️ **Timed out.** The result did not finish within the 3600s timeout.")
    ]


def test_summary_when_nothing_was_seen_says_so_without_a_rate() -> None:
    v = judge(None, Policy(), result_id=5, interruption=(Outcome.ERROR, "Cekura kept failing."))
    md = render_summary(v)
    assert md.startswith("## ⚠️ Cekura gate errored: no runs had been seen\n")
    assert gfm.tables(gfm.render(md))[0][1][5] == "–"


def test_summary_when_the_scenario_rule_decides_the_headline_names_it() -> None:
    v = judge(
        result(runs_for({101: "ppp", 102: "ppp", 103: "ppf"})),
        Policy(pass_threshold=80, scenario_pass_threshold=70),
    )
    md = render_summary(v)
    assert md.startswith(
        "## ❌ Cekura gate failed: 1 of 3 scenarios below the 70% per-scenario threshold\n"
    )


def test_summary_when_personalities_differ_titles_failures_with_the_full_label() -> None:
    """Two personalities of one scenario: each "why it failed" title names its personality."""
    runs = [
        run(1, outcome="fail", personality_name="Calm"),
        run(2, outcome="fail", personality_name="Angry"),
    ]
    md = render_summary(judge(result(runs), Policy()))
    titles = re.findall(r"<summary>(.*?)</summary>", md)
    assert len(titles) == 2 and len(set(titles)) == 2
    assert (
        "Scenario 101 &#40;Angry&#41;" in titles[0] and "Scenario 101 &#40;Calm&#41;" in titles[1]
    )


def test_summary_when_repetitions_fail_alike_groups_them_once() -> None:
    """Three runs failing the same metric are one entry; a different failure is its own."""
    runs = [*runs_for({101: "fff"}), run(4, 101, "error")]
    md = render_summary(judge(result(runs), Policy()))
    titles = re.findall(r"<summary>(.*?)</summary>", md)
    assert len(titles) == 2
    assert "3 runs (repetitions 1, 2, 3) — failed metric: Booking confirmed" in titles[0]
    assert "repetition 4 · run 4 — SIP 503" in titles[1]
    assert "Runs 1, 2, 3 · status completed" in md


def test_summary_when_five_huge_names_decide_keeps_headline_totals_and_footer() -> None:
    """Five 300 KB scenario names with a scenario threshold: whatever is shed, the headline,
    the totals table and the footer stay (issue 11, item 16)."""
    runs = [run(i, 100 + i, "fail", name=f"{i}" + "N" * 300_000) for i in range(1, 6)]
    v = judge(result(runs), Policy(pass_threshold=0, scenario_pass_threshold=50))
    md = render_summary(v)
    assert len(md.encode()) <= SUMMARY_LIMIT_BYTES
    assert md.startswith(
        "## ❌ Cekura gate failed: 5 of 5 scenarios below the 50% per-scenario threshold\n"
    )
    assert gfm.tables(gfm.render(md))[0][1][:2] == ["5", "0"]
    assert md.rstrip().endswith(f"cekura-ci {__version__}")
    small = render_summary(v, limit=20_000)
    assert "| 5 | 0 | 5 | 0 |" in small and small.rstrip().endswith(f"cekura-ci {__version__}")


def test_alerts_when_read_outside_github_start_with_their_own_label() -> None:
    """`> [!NOTE]` stays literal elsewhere; the body's own label keeps it readable there."""
    talk = [{"role": "Main Agent", "content": "x" * 400}] * 6
    v = judge(result([run(1, outcome="fail", transcript_object=talk)]), Policy())
    md = render_summary(v, limit=len(render_summary(v).encode()) - 1)
    [(kind, body)] = gfm.alerts(md)
    assert kind == "NOTE" and body.startswith("✂️ **Shortened.** Left out to stay under")
    assert "<strong>Shortened.</strong>" in gfm.render(md)


def test_console_when_interrupted_lists_unfinished_scenarios_as_waiting() -> None:
    v = judge(interrupted_result(), Policy(), interruption=(Outcome.CANCELLED, "cancelled"))
    text = render_console(v)
    assert text.startswith("CANCELLED: 9 of 15 runs had finished (7 passed, 2 failed)")
    assert "WAIT  0/0 (+3 not finished)  Scenario 105 [105]" in text
    assert "not finished 6" in text


def test_summary_when_infra_failures_are_ignored_marks_them_not_counted() -> None:
    """With infra_failures: ignore the totals say the infrastructure failures were left out."""
    runs = runs_for({101: "ppe"})
    ignored = render_summary(judge(result(runs), Policy(infra_failures="ignore")))
    counted = render_summary(judge(result(runs), Policy()))
    assert "| 1 (not counted) |" in ignored and "(not counted)" not in counted


def test_summary_when_a_long_name_runs_with_two_personalities_keeps_the_rows_apart() -> None:
    """A 300-character name once pushed the personality out of every clipped label: the two
    rows of the scenario table (and their annotations, and the console) read the same."""
    long_name = "Caller asks to move the appointment " * 10
    runs = [
        run(1, 101, "fail", name=long_name, personality_name="Calm caller"),
        run(2, 101, "fail", name=long_name, personality_name="Impatient caller"),
    ]
    verdict = judge(result(runs), Policy())
    [table] = [t for t in gfm.tables(gfm.render(render_summary(verdict))) if t[0][1] == "Scenario"]
    names = [row[1] for row in table[1:]]
    assert len(set(names)) == 2 and all(len(n) <= 120 for n in names)
    assert any("(Calm caller)" in n for n in names)
    assert any("(Impatient caller)" in n for n in names)
