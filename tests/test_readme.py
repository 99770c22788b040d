"""The README shows what the demo really writes: every line quoted from its summary and its
comment is in what `cekura-ci demo` renders today (dates and times aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cekura_ci.context import RunContext
from cekura_ci.demo import PULL_REQUEST_CONTEXT, run_demo
from cekura_ci.report.markdown import render_comment
from cekura_ci.verdict import Verdict
from tests.helpers import FakeClock

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
#: Lines that hold a date, a time or the text that stands for what is left out.
VOLATILE = re.compile(r"\d{4}-\d{2}-\d{2}|UTC|\(…|…\)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo's summary and comment, rendered once for every test here."""
    folder = tmp_path_factory.mktemp("demo")
    summary, report = folder / "summary.md", folder / "report.json"
    run_demo(None, str(summary), environ={}, clock=FakeClock(), report_file=str(report))
    verdict = Verdict.model_validate_json(report.read_text())
    run_url = RunContext.from_environ(PULL_REQUEST_CONTEXT).run_url
    return {"summary": summary.read_text(), "comment": render_comment(verdict, run_url)}


def quoted(section: str) -> list[str]:
    """The lines of the quote blocks in a README section, without their `> `."""
    text = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [
        line[2:] if line.startswith("> ") else ""
        for line in text.splitlines()
        if line.startswith(">")
    ]
    return [line for line in lines if line.strip() and not VOLATILE.search(line)]


def test_readme_summary_example_when_rendered_today_is_what_the_demo_writes(demo) -> None:
    lines = quoted("What the summary looks like")
    assert len(lines) > 20
    missing = [line for line in lines if line not in demo["summary"]]
    assert missing == [], missing


def test_readme_comment_example_when_rendered_today_is_what_the_demo_would_post(demo) -> None:
    lines = quoted("The pull-request comment")
    assert len(lines) > 5
    missing = [line for line in lines if line not in demo["comment"]]
    assert missing == [], missing


def test_readme_chart_example_when_rendered_today_is_the_demos_mermaid_block(demo) -> None:
    chart = README.split("````\n```mermaid\n", 1)[1].split("\n```\n````", 1)[0]
    assert f"```mermaid\n{chart}\n```" in demo["summary"]
