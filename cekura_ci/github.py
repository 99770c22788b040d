"""The runner's file commands and workflow commands; plain text outside GitHub Actions.

Data is escaped the way the actions toolkit escapes it, property values too. Every line this module
prints goes through `_print`, which makes both command syntaxes impossible in text we did not
write: `::` at the start of a line, and the legacy `##[`, which the runner obeys anywhere in a line.
Writing where GitHub reads (outputs, step summary) is best effort: a failure is a warning, never a
changed verdict.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

from cekura_ci.text import encodable, fold_controls, one_line, redact

ANNOTATION_LEVELS = ("error", "warning", "notice")
LEGACY_COMMAND = "##["
#: Splits `##[` so the runner's legacy parser never sees it; invisible where the line is shown.
_DEFUSED_LEGACY = "#\u200b#["
log = logging.getLogger(__name__)


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def defuse_legacy(text: str) -> str:
    """No `##[` left anywhere: the runner reads it as a command wherever it appears in a line."""
    while LEGACY_COMMAND in text:
        text = text.replace(LEGACY_COMMAND, _DEFUSED_LEGACY)
    return text


def safe_line(text: str) -> str:
    """A plain log line that the runner cannot read as a command, whatever it holds."""
    line = defuse_legacy(fold_controls(text).rstrip())
    return "» " + line if line.lstrip().startswith("::") else line


def unwritable_reason(path: str) -> str | None:
    """Why a report file could not be written at `path`, checked before anything is spent; None
    when it can (its folder exists and is writable, or can be created)."""
    target = Path(path)
    if target.is_dir():
        return "it is an existing directory"
    if target.exists():
        return None if os.access(target, os.W_OK) else "the file exists and is read-only"
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{os.fspath(parent)} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {os.fspath(parent)} is not writable"
    return None


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
        #: Every output set so far, as written (an error report names the result already started).
        self.outputs: dict[str, str] = {}
        #: Runner files that failed once; each is warned about once.
        self.unwritable: set[str] = set()

    def _print(self, line: str) -> None:
        print(defuse_legacy(encodable(redact(line, self.masked))), file=self.stream, flush=True)

    def mask(self, secret: str) -> None:
        """Ask the runner to hide the value in logs; remember it to redact our own writes too."""
        if not secret:
            return
        self.masked.append(secret)
        if self.on_actions:
            print(workflow_command("add-mask", secret), file=self.stream, flush=True)

    def log(self, text: str) -> None:
        self._print(safe_line(text))

    def log_lines(self, lines: Iterable[str]) -> None:
        """Many plain lines in one write (10,000 runs' lines, one print each, took a tenth of a
        second); each line as safe as `log` makes it."""
        block = "\n".join(safe_line(line) for line in lines)
        if block:
            self._print(block)

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
        text = encodable(redact(str(value), self.masked))
        self.outputs[name] = text
        if self.output_path:
            self._append(self.output_path, heredoc_output(name, text), "the step outputs")

    def write_file(self, path: str, content: str, *, redact_text: bool = True) -> str:
        """Write a report file (creating its folder), redacted like everything else we write.
        Machine-readable files pass `redact_text=False`: they are rendered from redacted data,
        and a replacement in their text could break their syntax.
        Raises OSError: the caller decides whether a report file that cannot be written matters."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = redact(content, self.masked) if redact_text else content
        target.write_text(encodable(text), encoding="utf-8")
        return os.fspath(path)

    def append_summary(self, markdown: str) -> None:
        if self.summary_path:
            text = encodable(redact(markdown, self.masked))
            self._append(self.summary_path, text, "the job summary")

    def _append(self, path: str, text: str, what: str) -> None:
        """Append to a file the runner reads; a failure (full disk, no permission) is a warning."""
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            if what not in self.unwritable:
                self.unwritable.add(what)
                log.warning(
                    "Could not write %s (%s); the verdict stands.", what, exc.strerror or exc
                )


class LogFormatter(logging.Formatter):
    """Log levels → what the runner shows: warnings and errors as annotations, debug as ::debug::."""

    def __init__(self, on_actions: bool) -> None:
        super().__init__()
        self.on_actions = on_actions

    def format(self, record: logging.LogRecord) -> str:
        return defuse_legacy(encodable(self._line(record)))

    def _line(self, record: logging.LogRecord) -> str:
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


class QuietLibraries(logging.Filter):
    """urllib3 warns of each connection retry it makes ("Retrying (Retry(total=1…)) after
    connection broken…"): our own retry lines already say what happened, and as `::warning::`
    annotations its lines would use up the step's ten, crowding out the scenarios'. Its records
    are debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("urllib3") and record.levelno < logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def configure_logging(github: GitHub, debug: bool) -> None:
    handler = logging.StreamHandler(github.stream)
    handler.setFormatter(LogFormatter(github.on_actions))
    handler.addFilter(RedactFilter(github.masked))
    handler.addFilter(QuietLibraries())
    for name, level in (
        ("cekura_ci", logging.DEBUG if debug else logging.INFO),
        ("urllib3", logging.WARNING if debug else logging.ERROR),
    ):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
