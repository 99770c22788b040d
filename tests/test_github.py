"""Workflow commands and file commands: escaped data, safe lines, delimited outputs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from cekura_ci.github import (
    GitHub,
    LogFormatter,
    escape_data,
    escape_property,
    heredoc_output,
    safe_line,
    workflow_command,
)
from tests.helpers import read_outputs


def test_escape_data_when_text_has_newlines_and_percent_encodes_them() -> None:
    """As the actions toolkit does: %, CR and LF."""
    assert escape_data("50%\r\n::error::x") == "50%25%0D%0A::error::x"


def test_escape_property_when_text_has_colon_and_comma_encodes_them() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_workflow_command_when_data_is_hostile_stays_one_command() -> None:
    """A newline in the message cannot start a second command."""
    line = workflow_command("error", "oops\n::add-mask::x", title="t:1,2")
    assert line == "::error title=t%3A1%2C2::oops%0A::add-mask::x"
    assert "\n" not in line


def test_safe_line_when_text_starts_a_command_is_defused() -> None:
    """Plain log lines never begin with `::`, even after leading spaces."""
    assert safe_line("  ::set-env name=X::y") == "»   ::set-env name=X::y"
    assert safe_line("ok\n::error::x") == "ok ::error::x"


def test_heredoc_output_when_value_is_multiline_uses_a_fresh_delimiter(tmp_path: Path) -> None:
    """The delimiter is random and absent from the value; the runner reads the value back whole."""
    value = "line 1\nEOF\nghadelimiter_\nline 4"
    block = heredoc_output("summary", value)
    delimiter = block.split("\n", 1)[0].split("<<", 1)[1]
    assert delimiter not in value and len(delimiter) > 30
    path = tmp_path / "out"
    path.write_text(block)
    assert read_outputs(path) == {"summary": value}


def test_outputs_when_the_runner_gives_no_output_file_fall_back_to_nothing() -> None:
    """Without GITHUB_OUTPUT an output is dropped, never printed as the removed `::set-output`."""
    stream = io.StringIO()
    GitHub({"GITHUB_ACTIONS": "true"}, stream).set_output("passed", "true")
    assert stream.getvalue() == ""


def test_mask_when_on_actions_registers_and_redacts_everywhere(tmp_path: Path) -> None:
    """The key is masked for the runner and redacted from our own lines, outputs and summaries."""
    stream = io.StringIO()
    (tmp_path / "o").write_text("")
    (tmp_path / "s").write_text("")
    gh = GitHub(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(tmp_path / "o"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "s"),
        },
        stream,
    )
    gh.mask("sekrit-123")
    gh.log("key is sekrit-123")
    gh.set_output("x", "sekrit-123")
    gh.append_summary("sekrit-123")
    assert stream.getvalue().splitlines() == ["::add-mask::sekrit-123", "key is ***"]
    assert "sekrit" not in (tmp_path / "o").read_text() and (tmp_path / "s").read_text() == "***"


def test_annotate_when_on_actions_escapes_title_and_message() -> None:
    stream = io.StringIO()
    GitHub({"GITHUB_ACTIONS": "true"}, stream).annotate("warning", "a\nb", title="Scenario: x, y")
    assert stream.getvalue() == "::warning title=Scenario%3A x%2C y::a%0Ab\n"


def test_annotate_when_outside_github_prints_plain_text() -> None:
    stream = io.StringIO()
    GitHub({}, stream).annotate("error", "failed", title="::x")
    assert stream.getvalue() == "error: ::x: failed\n"


def test_group_and_stop_commands_when_on_actions_are_balanced() -> None:
    stream = io.StringIO()
    gh = GitHub({"GITHUB_ACTIONS": "true"}, stream)
    with gh.group("runs"), gh.commands_stopped():
        gh.log("::error::from the api")
    lines = stream.getvalue().splitlines()
    token = lines[1].split("::")[-1]
    assert lines[0] == "::group::runs" and lines[1].startswith("::stop-commands::")
    assert (
        lines[2] == "» ::error::from the api"
        and lines[3] == f"::{token}::"
        and lines[4] == "::endgroup::"
    )


def test_log_formatter_when_on_actions_maps_levels_to_commands() -> None:
    fmt = LogFormatter(on_actions=True)
    record = lambda level, msg: logging.LogRecord("cekura_ci", level, "", 0, msg, None, None)  # noqa: E731
    assert fmt.format(record(logging.WARNING, "w\nx")) == "::warning::w%0Ax"
    assert fmt.format(record(logging.ERROR, "e")) == "::error::e"
    assert fmt.format(record(logging.DEBUG, "d")) == "::debug::d"
    assert fmt.format(record(logging.INFO, "::i")) == "» ::i"
