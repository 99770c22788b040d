"""JUnit XML: one testsuite per scenario, one testcase per run.

Agent failures are `<failure>`, infrastructure failures `<error>`, runs that had not finished when
waiting stopped `<skipped>`. When the gate itself could not decide (an error, a timeout, a
cancellation), a testcase named `gate` in a `Cekura gate` suite says so as an `<error>`, so a report
step never mistakes an interrupted gate for a green one, and a gate that ran nothing still leaves a
file to read.

Names are chosen for the report tools people use: the suite name and every testcase's classname are
the same scenario label (dorny/test-reporter then lists one suite per scenario, Jenkins one class),
with no `.` in it (Jenkins and mikepenz/action-junit-report split a classname on dots into package
and class, or into a file to annotate); a testcase's name is the repetition and the run id, unique in
the whole file. A suite's `file` is the workflow file when known, so annotations that report tools
derive from failures land on a file that exists.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cekura_ci.text import one_line
from cekura_ci.verdict import RunVerdict, ScenarioVerdict, Verdict

# Characters XML 1.0 cannot carry; shown as \xNN so the report stays valid and nothing is lost.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: U+2024 ONE DOT LEADER: looks like a full stop, is not one, so no tool splits a name on it.
DOT_LOOKALIKE = "\u2024"
GATE_SUITE = "Cekura gate"
NAME_LIMIT = 200


def _xml_text(text: object) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def seconds(duration: str | None) -> float:
    """Cekura's "MM:SS" (or "H:MM:SS") → seconds; 0 when unreadable."""
    if not duration or not re.fullmatch(r"\d+(:\d{1,2}){0,2}(\.\d+)?", duration.strip()):
        return 0.0
    total = 0.0
    for part in duration.strip().split(":"):
        total = total * 60 + float(part)
    return total


def suite_name(scenario: ScenarioVerdict) -> str:
    """`<label> [<scenario id>]`, one line, clipped, without dots: suite name and classname."""
    label = one_line(scenario.label, NAME_LIMIT)
    ident = "–" if scenario.scenario_id is None else scenario.scenario_id
    return f"{label} [{ident}]".replace(".", DOT_LOOKALIKE)


def testcase_name(run: RunVerdict) -> str:
    return f"repetition {run.repetition} (run {run.run_id})"


def _details(run: RunVerdict) -> str:
    lines = []
    if run.error_message:
        lines.append(f"Error: {run.error_message}")
    lines += [
        f"Failed metric: {m.name}" + (f" — {' '.join(m.explanation)}" if m.explanation else "")
        for m in run.failed_metrics
    ]
    lines += [f"Expected outcome not met: {line}" for line in run.failed_expectations]
    if run.transcript_tail:
        lines.append("End of the call:")
        lines += [f"  {t.role + ': ' if t.role else ''}{t.content}" for t in run.transcript_tail]
    lines.append(f"Run {run.run_id}, status {run.status}")
    return "\n".join(lines)


def _testcase(run: RunVerdict, classname: str) -> ET.Element:
    case = ET.Element(
        "testcase",
        name=testcase_name(run),
        classname=_xml_text(classname),
        time=f"{seconds(run.duration):.3f}",
    )
    if run.kind == "unfinished":
        ET.SubElement(
            case,
            "skipped",
            message=_xml_text(f"{run.reason} when waiting stopped; not judged"),
            type="unfinished",
        )
    elif not run.passed:
        tag = "error" if run.kind == "infra_failure" else "failure"
        child = ET.SubElement(case, tag, message=_xml_text(run.reason), type=run.kind)
        child.text = _xml_text(_details(run))
    return case


def _gate_case(message: str, kind: str, details: str, *, errored: bool = True) -> ET.Element:
    case = ET.Element("testcase", name="gate", classname=GATE_SUITE, time="0.000")
    if errored:
        error = ET.SubElement(case, "error", message=_xml_text(message), type=kind)
        error.text = _xml_text(details)
    else:
        ET.SubElement(case, "system-out").text = _xml_text(details)
    return case


def _suite(name: str, cases: list[ET.Element], file: str | None) -> ET.Element:
    """A testsuite whose counts are derived from its testcases, never tallied by hand."""
    attrs = {
        "name": _xml_text(name),
        "tests": str(len(cases)),
        "failures": str(sum(c.find("failure") is not None for c in cases)),
        "errors": str(sum(c.find("error") is not None for c in cases)),
        "skipped": str(sum(c.find("skipped") is not None for c in cases)),
        "time": f"{sum(float(c.get('time', 0)) for c in cases):.3f}",
    }
    if file:
        attrs["file"] = file
    suite = ET.Element("testsuite", attrs)
    suite.extend(cases)
    return suite


def _document(name: str, suites: list[ET.Element], properties: dict[str, object]) -> str:
    root = ET.Element(
        "testsuites",
        name=_xml_text(name),
        tests=str(sum(int(s.get("tests", 0)) for s in suites)),
        failures=str(sum(int(s.get("failures", 0)) for s in suites)),
        errors=str(sum(int(s.get("errors", 0)) for s in suites)),
        time=f"{sum(float(s.get('time', 0)) for s in suites):.3f}",
    )
    if suites:
        block = ET.Element("properties")
        for key, value in properties.items():
            if value is not None:
                ET.SubElement(block, "property", name=key, value=_xml_text(value))
        suites[0].insert(0, block)
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _document_name(result_id: int | None, result_name: str | None) -> str:
    return f"Cekura result {'–' if result_id is None else result_id}" + (
        f": {' '.join(result_name.split())[:NAME_LIMIT]}" if result_name else ""
    )


def render_junit(verdict: Verdict, file: str | None = None) -> str:
    """The verdict as JUnit XML; `file` (the workflow file, relative to the repository) is put on
    every suite for tools that annotate files."""
    suites = []
    if verdict.interrupted:
        done = (
            f"{verdict.finished_runs} of {verdict.total_runs} runs had finished: "
            f"{verdict.passed_runs} passed, {verdict.failed_runs} failed."
        )
        details = "\n".join([verdict.decided_by, *verdict.notes, done])
        case = _gate_case(verdict.decided_by, verdict.outcome.value, details)
        suites.append(_suite(GATE_SUITE, [case], file))
    for scenario in verdict.scenarios:
        name = suite_name(scenario)
        suites.append(_suite(name, [_testcase(run, name) for run in scenario.runs], file))
    properties = {
        "result_id": verdict.result_id,
        "status": verdict.status,
        "outcome": verdict.outcome.value,
        "gate_passed": str(verdict.gate_passed).lower(),
        "pass_rate": f"{verdict.pass_rate:.2f}",
        "pass_threshold": f"{verdict.pass_threshold:g}",
        "scenario_pass_threshold": None
        if verdict.scenario_pass_threshold is None
        else f"{verdict.scenario_pass_threshold:g}",
    }
    return _document(_document_name(verdict.result_id, verdict.result_name), suites, properties)


def render_error_junit(
    message: str,
    *,
    outcome: str,
    hint: str | None = None,
    result_id: int | None = None,
    file: str | None = None,
) -> str:
    """When the gate stopped before there was a verdict: one errored `gate` testcase."""
    details = "\n".join(part for part in (message, hint) if part)
    suite = _suite(GATE_SUITE, [_gate_case(message, outcome, details)], file)
    return _document(
        _document_name(result_id, None), [suite], {"result_id": result_id, "outcome": outcome}
    )


def render_plan_junit(message: str, *, file: str | None = None) -> str:
    """When the step ended well before any run (a dry run, nothing to re-run): one passing
    `gate` testcase that says so, so a report step that needs a file finds one."""
    suite = _suite(GATE_SUITE, [_gate_case(message, "passed", message, errored=False)], file)
    return _document(_document_name(None, None), [suite], {"outcome": "passed"})
