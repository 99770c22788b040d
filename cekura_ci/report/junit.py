"""JUnit XML: one testcase per run, agent failures as <failure>, infrastructure failures as <error>."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cekura_ci.verdict import RunVerdict, Verdict

# Characters XML 1.0 cannot carry; shown as \xNN so the report stays valid and nothing is lost.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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


def _testcase(run: RunVerdict) -> ET.Element:
    case = ET.Element(
        "testcase",
        name=_xml_text(f"{run.scenario_name} [{run.scenario_id}] #{run.repetition}"),
        classname=_xml_text(f"cekura.{run.scenario_name}"),
        time=f"{seconds(run.duration):.3f}",
    )
    if not run.passed:
        tag = "error" if run.kind == "infra_failure" else "failure"
        child = ET.SubElement(case, tag, message=_xml_text(run.reason), type=run.kind)
        child.text = _xml_text(_details(run))
    return case


def render_junit(verdict: Verdict) -> str:
    runs = [run for scenario in verdict.scenarios for run in scenario.runs]
    cases = [_testcase(run) for run in runs]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    time = f"{sum(float(c.get('time', 0)) for c in cases):.3f}"
    name = f"Cekura result {verdict.result_id}" + (
        f": {verdict.result_name}" if verdict.result_name else ""
    )
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": str(errors),
        "time": time,
    }
    root = ET.Element("testsuites", name="cekura-ci", **counts)
    suite = ET.SubElement(root, "testsuite", name=_xml_text(name), skipped="0", **counts)
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("result_id", verdict.result_id),
        ("status", verdict.status),
        ("outcome", verdict.outcome.value),
        ("pass_rate", f"{verdict.pass_rate:.2f}"),
        ("pass_threshold", f"{verdict.pass_threshold:g}"),
    ):
        ET.SubElement(properties, "property", name=key, value=_xml_text(value))
    suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
