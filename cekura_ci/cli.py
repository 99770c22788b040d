"""Entry points: the Docker action (INPUT_* variables), `cekura-ci run|demo|emulator`.

`guarded` maps every failure to an exit code and writes it where people look (log, summary,
outputs); nothing else in the program decides exit codes or prints tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence

from cekura_ci import __version__
from cekura_ci.client import CekuraClient, make_session
from cekura_ci.context import RunContext
from cekura_ci.errors import Cancelled, CekuraCIError, ExitCode, Outcome
from cekura_ci.github import GitHub, configure_logging
from cekura_ci.pipeline import Gate
from cekura_ci.publish import publish_error, write_report
from cekura_ci.settings import MIN_API_KEY_LENGTH, Settings, SettingsError, read_inputs
from cekura_ci.text import redact
from cekura_ci.timing import Backoff, CancelToken, Clock

log = logging.getLogger(__name__)

ENV_PREFIX = "CEKURA_"
ACTION_PREFIX = "INPUT_"


def build_gate(
    settings: Settings, github: GitHub, clock: Clock, context: RunContext | None = None
) -> Gate:
    session = make_session(settings.api_key)
    client = CekuraClient(
        settings.api_url, session, timeout=settings.request_timeout, cancel=clock.cancel
    )
    return Gate(settings, client, github, clock, Backoff(), context or RunContext())


def load_settings(raw: Mapping[str, str | None], environ: Mapping[str, str]) -> Settings:
    settings = Settings.from_inputs(raw)
    if not settings.name:
        settings = settings.model_copy(
            update={"name": RunContext.from_environ(environ).result_name()}
        )
    return settings


def _mask_raw_key(raw: Mapping[str, str | None], github: GitHub) -> None:
    """Mask the key (and the GitHub token) before they are validated, so no later line can show
    them. A value too short to be a key is refused without being echoed, and masking it would
    rewrite every line it occurs in."""
    key = (raw.get("api_key") or "").strip()
    if len(key) >= MIN_API_KEY_LENGTH:
        github.mask(key)
    token = (raw.get("github_token") or "").strip()
    if len(token) >= MIN_API_KEY_LENGTH:
        github.mask(token)


MISSING_KEY_HINT = (
    "Nothing was sent to Cekura. The secret passed as api_key is empty or not set: add it under "
    "Settings → Secrets and variables → Actions (or pass the right name), then run the job again."
)
FORK_KEY_HINT = (
    "Nothing was sent to Cekura. This pull request comes from a fork, and GitHub gives workflows "
    "run for a fork's pull request no secrets, so api_key is empty. See the README's security "
    "section for how to keep pull requests from forks gated."
)


def _describe(
    exc: Exception, github: GitHub, context: RunContext | None = None
) -> tuple[list[str], ExitCode, Outcome, str | None]:
    """(message lines, exit code, outcome, what to do next) for anything that stopped the gate."""
    if isinstance(exc, SettingsError):
        lines = [f"Invalid input '{name}': {why}." for name, why in exc.problems]
        hint = "Nothing was sent to Cekura. Fix the input and run the job again."
        if any(name == "api_key" and "empty" in why for name, why in exc.problems):
            hint = FORK_KEY_HINT if context is not None and context.from_fork else MISSING_KEY_HINT
        return lines, ExitCode.USAGE_ERROR, Outcome.ERROR, hint
    if isinstance(exc, CekuraCIError):
        return [str(exc)], exc.exit_code, exc.outcome, exc.hint
    # A bug of ours: say so; the trace is shown only when debugging.
    from cekura_ci.report.markdown import DOCS_URL

    log.debug("%s", redact(traceback.format_exc(), github.masked))
    line = f"Unexpected error in cekura-ci {__version__} ({type(exc).__name__}: {exc}). Please report it: {DOCS_URL}"
    return [line], ExitCode.INFRASTRUCTURE, Outcome.ERROR, None


def guarded(
    github: GitHub,
    summary_file: str | None,
    body: Callable[[], ExitCode],
    raw: Mapping[str, str | None] | None = None,
    context: RunContext | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Run `body`; turn every failure into one clear message, an error summary and an exit code
    (and, when asked for, a JUnit file and a pull-request comment that say the same)."""
    try:
        return int(body())
    except Exception as exc:
        lines, code, outcome, hint = _describe(exc, github, context)
    from cekura_ci.report.markdown import render_error  # jinja2 only when there is an error

    for line in lines:
        github.annotate("error", line, title="Cekura gate")
    # Redacted before anything renders it: Markdown or XML escaping would hide the key from a
    # redaction of the rendered text.
    message = redact(" ".join(lines), github.masked)
    started = github.outputs.get("result_id", "")
    summary = render_error(
        message, hint=hint, result_id=int(started) if started.isdigit() else None
    )
    github.append_summary(summary)
    github.set_output("outcome", outcome.value)
    github.set_output("passed", "false")
    if written := write_report(github, "summary_file", summary_file or "", lambda: summary):
        github.set_output("summary_file", written)
    produced = publish_error(
        message,
        outcome=outcome,
        hint=hint,
        raw=raw or {},
        github=github,
        context=context or RunContext(),
        cancel=cancel,
    )
    for name, value in produced.items():
        github.set_output(name, value)
    if cancel is not None and cancel.cancelled and outcome != Outcome.CANCELLED:
        return int(Cancelled(cancel.signal_number or signal.SIGINT).exit_code)
    return int(code)


def _start(environ: Mapping[str, str], raw: Mapping[str, str | None]) -> GitHub:
    github = GitHub(environ)
    _mask_raw_key(raw, github)
    configure_logging(
        github, debug=environ.get("RUNNER_DEBUG") == "1" or environ.get("CEKURA_DEBUG") == "1"
    )
    return github


def action_main(environ: Mapping[str, str], clock: Clock | None = None) -> int:
    """The Docker action: inputs arrive as INPUT_<NAME>, with action.yml's defaults filled in."""
    return run_gate(read_inputs(environ, ACTION_PREFIX), environ, clock)


def run_gate(
    raw: Mapping[str, str | None], environ: Mapping[str, str], clock: Clock | None = None
) -> int:
    """The gate from raw inputs: mask, log, take over signals, run guarded, let go of signals.
    `clock` is injected by tests (a fake one) and by nothing else."""
    github = _start(environ, raw)
    clock = clock or Clock(CancelToken())
    clock.cancel.install()
    context = RunContext.from_environ(environ)
    code = guarded(
        github,
        raw.get("summary_file") or Settings.default_text("summary_file"),
        lambda: build_gate(load_settings(raw, environ), github, clock, context).run(),
        raw,
        context,
        clock.cancel,
    )
    clock.cancel.release()
    return code


# --- the command line ----------------------------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_input_flags(parser: argparse.ArgumentParser) -> None:
    for name, field in Settings.model_fields.items():
        default = Settings.default_text(name)
        shown = f" Default: {default}." if default else ""
        parser.add_argument(
            _flag(name),
            dest=name,
            metavar=name.upper(),
            help=f"{field.description}{shown} Env: {ENV_PREFIX}{name.upper()}.".replace("%", "%%"),
        )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cekura-ci",
        description="Gate merges on Cekura voice-agent test runs (LiveKit v2).",
        epilog="Exit codes: 0 passed, 1 gate failed, 2 bad input or request refused, "
        "3 infrastructure (unreachable, gave up, timed out), 130/143 cancelled.",
    )
    root.add_argument("--version", action="version", version=f"cekura-ci {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="start a run, wait for it, judge it, report it",
        description="Start a Cekura LiveKit v2 run, wait for it, judge it and report it. Every "
        f"flag can also be given as an environment variable {ENV_PREFIX}<NAME>; flags win.",
    )
    _add_input_flags(run)

    demo = commands.add_parser(
        "demo",
        help="run the real gate against the built-in local Cekura stand-in; no account needed",
    )
    demo.add_argument(
        "--summary-file", default="cekura-demo-summary.md", help="where to write the summary"
    )
    demo.add_argument(
        "--world", help="a world file (JSON or YAML) instead of the built-in demo world"
    )
    demo.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with the gate's own code (1 when it fails) instead of 0 once the demo has run",
    )

    # Listed here for --help only: main() hands `emulator …` to the stand-in's own parser.
    commands.add_parser(
        "emulator",
        add_help=False,
        help="serve the local Cekura API stand-in on loopback (--host, --port, --world, "
        "--api-key, --speed; `cekura-ci emulator --help` says more)",
    )
    return root


def run_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    raw = read_inputs(environ, ENV_PREFIX)
    raw.update(
        {
            name: getattr(args, name)
            for name in Settings.input_names()
            if getattr(args, name) is not None
        }
    )
    return run_gate(raw, environ)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["emulator"]:  # the stand-in has its own command line
        from cekura_ci.emulator.cli import main as emulator_main

        return emulator_main(argv[1:], prog="cekura-ci emulator")
    args = parser().parse_args(argv)
    if args.command == "run":
        return run_command(args, environ)
    from cekura_ci.demo import run_demo  # the demo uses both the gate and the stand-in

    return run_demo(args.world, args.summary_file, exit_code=args.exit_code, environ=environ)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
