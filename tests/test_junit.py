"""JUnit XML as report tools read it: the published Jenkins schema, junitparser, junit2html, and
the naming rules of dorny/test-reporter and mikepenz/action-junit-report."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
import xmlschema
from junit2htmlreport import parser as junit2html

from cekura_ci.errors import Outcome
from cekura_ci.report.junit import (
    DOT_LOOKALIKE,
    GATE_SUITE,
    render_error_junit,
    render_junit,
    seconds,
)
from cekura_ci.verdict import Policy, judge
from tests.factories import result, run, runs_for
from tests.test_verdict import interrupted_result

#: The schema the Jenkins xUnit plugin publishes (see tests/data/SOURCES.md).
JUNIT_XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "jenkins-junit-10.xsd")


def suites(xml: str) -> list[ET.Element]:
    return ET.fromstring(xml).findall("testsuite")


def counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors", "skipped"))


def read_with_junitparser(xml: str, tmp_path: Path) -> junitparser.JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    return junitparser.JUnitXml.fromfile(str(path))


def test_junit_when_runs_fail_is_valid_with_one_suite_per_scenario() -> None:
    """One suite per scenario; agent failures are <failure>, infrastructure failures <error>."""
    xml = render_junit(judge(result(runs_for({101: "pfe", 102: "pp"})), Policy()))
    JUNIT_XSD.validate(xml)
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")
    first, second = suites(xml)
    assert first.get("name") == "Scenario 101 [101]" and counts(first) == ("3", "1", "1", "0")
    assert second.get("name") == "Scenario 102 [102]" and counts(second) == ("2", "0", "0", "0")
    failure = first.find("testcase/failure")
    assert failure is not None and failure.get("message") == "failed metric: Booking confirmed"
    assert "Did not confirm the booking" in (failure.text or "")


def test_junit_names_when_read_by_report_tools_group_per_scenario_without_dots() -> None:
    """classname equals the suite name (dorny lists one suite, Jenkins one class per scenario),
    holds no dot to split on, and testcase names do not repeat the scenario."""
    runs = [run(1, 101, "fail", name="Book v2.1 flow"), run(2, 101, "pass", name="Book v2.1 flow")]
    xml = render_junit(judge(result(runs), Policy()))
    JUNIT_XSD.validate(xml)
    [suite] = suites(xml)
    name = suite.get("name") or ""
    assert name == f"Book v2{DOT_LOOKALIKE}1 flow [101]" and "." not in name
    cases = suite.findall("testcase")
    assert {c.get("classname") for c in cases} == {name}
    assert [c.get("name") for c in cases] == ["repetition 1 (run 1)", "repetition 2 (run 2)"]


def test_junit_names_when_personalities_differ_are_unique() -> None:
    """Two personalities of one scenario: two suites, and no testcase name twice in the file."""
    runs = [
        run(1, outcome="fail", personality_name="Calm"),
        run(2, outcome="fail", personality_name="Angry"),
        run(3, personality_name="Calm"),
    ]
    xml = render_junit(judge(result(runs), Policy()))
    names = [(c.get("classname"), c.get("name")) for c in ET.fromstring(xml).iter("testcase")]
    assert len({n for _, n in names}) == len(names) == 3
    assert {s.get("name") for s in suites(xml)} == {
        "Scenario 101 (Angry) [101]",
        "Scenario 101 (Calm) [101]",
    }


def test_junit_when_interrupted_skips_unfinished_runs_and_errors_the_gate(tmp_path: Path) -> None:
    """Runs not finished are <skipped> with a message, never errors; the gate testcase says why
    the gate could not decide, so no report tool shows an interrupted gate as green."""
    v = judge(
        interrupted_result(),
        Policy(),
        interruption=(Outcome.TIMEOUT, "Result 77 was still running after 1h00m."),
    )
    xml = render_junit(v)
    JUNIT_XSD.validate(xml)
    gate, *scenario_suites = suites(xml)
    assert gate.get("name") == GATE_SUITE and counts(gate) == ("1", "0", "1", "0")
    error = gate.find("testcase/error")
    assert error is not None and error.get("type") == "timeout"
    assert "9 of 15 runs had finished: 7 passed, 2 failed." in (error.text or "")
    skipped = [
        c for s in scenario_suites for c in s.iter("testcase") if c.find("skipped") is not None
    ]
    assert len(skipped) == 6
    assert all(c.find("error") is None and c.find("failure") is None for c in skipped)
    message = skipped[0].find("skipped").get("message")  # type: ignore[union-attr]
    assert message == "not finished (still running) when waiting stopped; not judged"
    parsed = read_with_junitparser(xml, tmp_path)
    assert (parsed.tests, parsed.failures, parsed.errors, parsed.skipped) == (16, 2, 1, 6)


def test_junit_when_the_gate_ran_nothing_is_one_errored_gate_testcase(tmp_path: Path) -> None:
    """Exit 2 before anything ran: still a valid file, with the gate itself as the error."""
    xml = render_error_junit(
        "Invalid input 'agent_id': got 'abc'; expected a whole number.",
        outcome="error",
        hint="Nothing was sent to Cekura.",
        file=".github/workflows/gate.yml",
    )
    JUNIT_XSD.validate(xml)
    [suite] = suites(xml)
    assert suite.get("name") == GATE_SUITE and suite.get("file") == ".github/workflows/gate.yml"
    case = suite.find("testcase")
    assert case is not None and case.get("name") == "gate" and case.get("classname") == GATE_SUITE
    assert "Nothing was sent" in (case.find("error").text or "")  # type: ignore[union-attr]
    parsed = read_with_junitparser(xml, tmp_path)
    assert (parsed.tests, parsed.errors) == (1, 1)


def test_junit_when_a_workflow_file_is_known_every_suite_points_at_it() -> None:
    """mikepenz/action-junit-report annotates a suite's `file`: one that exists."""
    xml = render_junit(
        judge(result(runs_for({101: "f", 102: "p"})), Policy()), file=".github/workflows/g.yml"
    )
    JUNIT_XSD.validate(xml)
    assert {s.get("file") for s in suites(xml)} == {".github/workflows/g.yml"}


def test_junit_when_read_by_junitparser_counts_match_the_verdict(tmp_path: Path) -> None:
    v = judge(result(runs_for({101: "pfe", 102: "ppf", 103: "p"})), Policy())
    parsed = read_with_junitparser(render_junit(v), tmp_path)
    assert (parsed.tests, parsed.failures, parsed.errors, parsed.skipped) == (7, 2, 1, 0)
    assert v.failed_runs == parsed.failures + parsed.errors
    names = [case.name for suite in parsed for case in suite]
    assert len(names) == len(set(names)) == 7


def test_junit_when_rendered_by_junit2html_shows_every_scenario(tmp_path: Path) -> None:
    xml = render_junit(judge(result(runs_for({101: "pf", 102: "p"})), Policy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        html = junit2html.Junit(xmlstring=xml).html()
    assert "Scenario 101 [101]" in html and "Scenario 102 [102]" in html
    assert "failed metric: Booking confirmed" in html


def test_junit_when_text_has_illegal_characters_makes_them_visible() -> None:
    """Control characters XML cannot hold are shown as \\xNN, and the file stays valid."""
    xml = render_junit(
        judge(result([run(1, outcome="error", error_message="bad\x00byte\x1b[31m")]), Policy())
    )
    JUNIT_XSD.validate(xml)
    assert "bad\\x00byte\\x1b[31m" in xml


def test_junit_when_names_are_huge_clips_them_and_stays_valid() -> None:
    xml = render_junit(judge(result([run(1, name="N" * 300_000)]), Policy()))
    JUNIT_XSD.validate(xml)
    assert len(xml) < 5_000


@pytest.mark.parametrize(
    ("text", "expected"), [("01:30", 90), ("1:02:03", 3723), ("", 0), ("n/a", 0), (None, 0)]
)
def test_duration_when_mmss_is_read_as_seconds(text: str | None, expected: float) -> None:
    assert seconds(text) == expected
