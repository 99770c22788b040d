"""The runner's file commands and workflow commands; plain text outside GitHub Actions.

Data is escaped the way the actions toolkit escapes it, property values too, and every line this
module prints starts with text of ours, so nothing from the API can become a workflow command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from cekura_ci.text import fold_controls, one_line, redact

ANNOTATION_LEVELS = ("error", "warning", "notice")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def safe_line(text: str) -> str:
    """A plain log line that the runner cannot read as a command, whatever it holds."""
    line = fold_controls(text).rstrip()
    return "» " + line if line.lstrip().startswith("::") else line


def heredoc_output(name: str, value: str) -> str:
    """`name<<DELIM` block for $GITHUB_OUTPUT, with a delimiter the value cannot contain."""
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    while delimiter in value:  # pragma: no cover - 128 random bits
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


class GitHub:
    """Where reports go: workflow commands and file commands on a runner, plain text elsewhere."""

    def __init__(self, environ: Mapping[str, str], stream: TextIO | None = None) -> None:
        self.on_actions = environ.get("GITHUB_ACTIONS") == "true"
        self.output_path = environ.get("GITHUB_OUTPUT") or None
        self.summary_path = environ.get("GITHUB_STEP_SUMMARY") or None
        self.stream = stream or sys.stdout
        self.masked: list[str] = []

    def _print(self, line: str) -> None:
        print(redact(line, self.masked), file=self.stream, flush=True)

    def mask(self, secret: str) -> None:
        """Ask the runner to hide the value in logs; remember it to redact our own writes too."""
        if not secret:
            return
        self.masked.append(secret)
        if self.on_actions:
            print(workflow_command("add-mask", secret), file=self.stream, flush=True)

    def log(self, text: str) -> None:
        self._print(safe_line(text))

    def annotate(self, level: str, message: str, title: str | None = None) -> None:
        if level not in ANNOTATION_LEVELS:
            raise ValueError(f"annotation level must be one of {ANNOTATION_LEVELS}")
        if self.on_actions:
            props = {"title": one_line(title, 200)} if title else {}
            self._print(workflow_command(level, message, **props))
        else:
            head = f"{level}: {one_line(title)}: " if title else f"{level}: "
            self._print(safe_line(head + message))

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.on_actions:
            self._print(workflow_command("group", one_line(title)))
        else:
            self._print(safe_line(f"── {title} ──"))
        try:
            yield
        finally:
            if self.on_actions:
                self._print(workflow_command("endgroup"))

    @contextlib.contextmanager
    def commands_stopped(self) -> Iterator[None]:
        """Between these lines the runner obeys no workflow command at all."""
        token = secrets.token_hex(16)
        if self.on_actions:
            self._print(workflow_command("stop-commands", token))
        try:
            yield
        finally:
            if self.on_actions:
                self._print(f"::{token}::")

    def set_output(self, name: str, value: object) -> None:
        text = redact(str(value), self.masked)
        if self.output_path:
            with open(self.output_path, "a", encoding="utf-8") as handle:
                handle.write(heredoc_output(name, text))

    def write_file(self, path: str, content: str) -> str:
        """Write a report file (creating its folder), redacted like everything else we write."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redact(content, self.masked), encoding="utf-8")
        return os.fspath(path)

    def append_summary(self, markdown: str) -> None:
        if self.summary_path:
            with open(self.summary_path, "a", encoding="utf-8") as handle:
                handle.write(redact(markdown, self.masked))


class LogFormatter(logging.Formatter):
    """Log levels → what the runner shows: warnings and errors as annotations, debug as ::debug::."""

    def __init__(self, on_actions: bool) -> None:
        super().__init__()
        self.on_actions = on_actions

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        level = record.levelname.lower()
        if self.on_actions and record.levelno >= logging.WARNING:
            return workflow_command(
                "error" if record.levelno >= logging.ERROR else "warning", message
            )
        if self.on_actions and record.levelno < logging.INFO:
            return workflow_command("debug", message)
        prefix = "" if record.levelno == logging.INFO else f"{level}: "
        return safe_line(prefix + message)


class RedactFilter(logging.Filter):
    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = secrets_

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        return True


def configure_logging(github: GitHub, debug: bool) -> None:
    handler = logging.StreamHandler(github.stream)
    handler.setFormatter(LogFormatter(github.on_actions))
    handler.addFilter(RedactFilter(github.masked))
    for name, level in (
        ("cekura_ci", logging.DEBUG if debug else logging.INFO),
        ("urllib3", logging.WARNING),
    ):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
