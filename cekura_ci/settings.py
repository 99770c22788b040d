"""Inputs → validated Settings: one model for the action's INPUT_* variables, CLI flags and CEKURA_*.

Every raw value is a string, as the runner hands it over; every parser below says what it expected,
so a refusal names the input, what was given and what would have been right.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)
from pydantic_core import PydanticUndefined

from cekura_ci.text import clip

DEFAULT_API_URL = "https://api.cekura.ai"
HOUR = 3600.0
DEFAULT_REQUEST_TIMEOUT = 30.0
DAY = 24 * HOUR
MAX_NAME_LENGTH = 255  # Cekura's Result.name maxLength


class SettingsError(ValueError):
    """One or more inputs were refused; `problems` maps each input to why."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems))


# --- parsers: str -> value, raising ValueError("expected ...") ---------------------------------


def _tokens(text: str, separators: str) -> list[str]:
    """Split a list given as text: commas, newlines, a YAML block list (`- 1`) or flow list (`[1]`)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    lines = (re.sub(r"^\s*-\s+", "", line) for line in text.splitlines())
    return [
        tok.strip().strip("'\"") for tok in re.split(separators, "\n".join(lines)) if tok.strip()
    ]


def _positive_int(token: str, what: str) -> int:
    if not re.fullmatch(r"\+?\d+", token.strip()) or int(token) < 1:
        raise ValueError(f"{what} must be a positive whole number")
    return int(token)


def parse_id_list(value: Any) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        tokens = [str(v) for v in value]
    else:
        tokens = _tokens(str(value), r"[,\s]+")
    if not tokens:
        raise ValueError("expected at least one positive integer id")
    try:
        ids = tuple(_positive_int(tok, f"{tok!r}") for tok in tokens)
    except ValueError as exc:
        raise ValueError(
            f"expected positive integer ids separated by commas, spaces or newlines ({exc})"
        ) from None
    seen: set[int] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"expected each id once, but {item} is listed twice")
        seen.add(item)
    return ids


def parse_name_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if str(value).strip() == "[]":
        return ()  # explicit empty list: Cekura then mocks no tool at all
    return tuple(_tokens(str(value), r"[,\n]+"))


def _number(value: Any, expected: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected {expected}")
    return number


def bounded_int(low: int, high: int | None = None) -> Callable[[Any], int]:
    expected = (
        f"a whole number from {low} to {high}" if high else f"a whole number of at least {low}"
    )

    def parse(value: Any) -> int:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"expected {expected}")
        number = int(text)
        if number < low or (high is not None and number > high):
            raise ValueError(f"expected {expected}")
        return number

    return parse


def bounded_seconds(low: float, high: float, *, exclusive: bool = False) -> Callable[[Any], float]:
    """Seconds from `low` (exclusive or not) to `high`: huge values overflow the clocks they feed."""
    expected = f"a number of seconds {'above' if exclusive else 'from'} {low:g} {'and at most' if exclusive else 'to'} {high:g}"

    def parse(value: Any) -> float:
        number = _number(value, expected)
        if number < low or (exclusive and number == low) or number > high:
            raise ValueError(f"expected {expected}")
        return number

    return parse


def parse_poll_interval(value: Any) -> float | Literal["auto"]:
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        return bounded_seconds(1, HOUR)(value)
    except ValueError:
        raise ValueError("expected auto or a number of seconds from 1 to 3600") from None


def parse_percent(value: Any) -> float:
    expected = "a percentage from 0 to 100, such as 95 or 95%"
    text = str(value).strip()
    number = _number(text.removesuffix("%"), expected)
    if not 0 <= number <= 100:
        raise ValueError(f"expected {expected}")
    return number


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError("expected true or false")
    return text == "true"


def _is_loopback(host: str) -> bool:
    """localhost, or an IP address on the loopback interface (127.0.0.0/8, ::1). A name that only
    starts like one (`127.evil.example`) resolves wherever its owner likes: not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_api_url(value: Any) -> str:
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("expected an http(s) URL such as https://api.cekura.ai") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError("expected an http(s) URL such as https://api.cekura.ai")
    if any(ch.isspace() for ch in text) or not text.isprintable():
        raise ValueError("expected a URL without spaces")
    if parts.query or parts.fragment:
        raise ValueError("expected a base URL without a query or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "expected https: plain http would send the API key in clear text (http is allowed "
            "only for a stand-in on this machine, such as http://127.0.0.1:8080)"
        )
    return text.rstrip("/")


MAX_LIVEKIT_DATA_DEPTH = 32
MAX_LIVEKIT_DATA_CHARS = 100_000


def _depth(value: Any) -> int:
    """How deeply JSON containers nest (iteratively: deep input must not exhaust the stack)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        node, level = todo.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                deepest = max(deepest, level + 1)
                todo.append((child, level + 1))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_livekit_data(value: Any) -> dict[str, Any]:
    expected = 'a JSON object such as {"agent_name": "my-agent", "url": "wss://…", "config": {}}'
    if isinstance(value, dict):
        data = value
    else:
        text = str(value)
        if len(text) > MAX_LIVEKIT_DATA_CHARS:
            raise ValueError(f"expected at most {MAX_LIVEKIT_DATA_CHARS:,} characters of JSON")
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise ValueError(
                f"expected JSON nested at most {MAX_LIVEKIT_DATA_DEPTH} levels"
            ) from None
        except ValueError:  # JSONDecodeError, or NaN / Infinity, which JSON does not have
            raise ValueError(f"expected {expected}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected {expected}")
    if _depth(data) > MAX_LIVEKIT_DATA_DEPTH:
        raise ValueError(f"expected JSON nested at most {MAX_LIVEKIT_DATA_DEPTH} levels")
    for key in ("agent_name", "url"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"expected {key!r} to be a string")
    leaked = sorted(k for k in data if "secret" in k.lower() or "key" in k.lower())
    if leaked:
        raise ValueError(
            f"expected no credentials here ({', '.join(leaked)}): Cekura reads LiveKit credentials "
            "from the agent or project"
        )
    return data


def parse_name(value: Any) -> str:
    text = " ".join(str(value).split())
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"expected at most {MAX_NAME_LENGTH} characters")
    return text


def parse_path(value: Any) -> str:
    text = str(value).strip()
    if "\x00" in text or "\n" in text:
        raise ValueError("expected a file path")
    return text


def parse_baseline(value: Any) -> str:
    """`auto`, a result id, or the path of a JSON report; empty means no comparison."""
    text = str(value).strip()
    if text.lower() == "auto":
        return "auto"
    if re.fullmatch(r"\+?\d+", text):
        return str(_positive_int(text, "a baseline result id"))
    return parse_path(text)


def parse_branch(value: Any) -> str:
    """A branch name as git allows it: one word; `refs/heads/` is dropped."""
    text = str(value).strip().removeprefix("refs/heads/")
    if any(ch.isspace() for ch in text) or not text.isprintable() or len(text) > 200:
        raise ValueError("expected a branch name such as main (one word, at most 200 characters)")
    return text


def parse_probability(value: Any) -> float:
    expected = "a p-value above 0 and at most 1, such as 0.05"
    number = _number(value, expected)
    if not 0 < number <= 1:
        raise ValueError(f"expected {expected}")
    return number


def parse_tags(value: Any) -> tuple[str, ...]:
    """Tags separated by commas or newlines (a tag may hold spaces, never a comma: Cekura's
    `tags` filter is comma-separated), each once, in the order given."""
    tokens = [str(v).strip() for v in value] if isinstance(value, (list, tuple)) else None
    if tokens is None:
        tokens = _tokens(str(value), r"[,\n]+")
    if any("," in tok for tok in tokens):
        raise ValueError("expected tags without commas (commas separate tags)")
    return tuple(dict.fromkeys(tok for tok in tokens if tok))


def parse_folder(value: Any) -> str:
    """A dot-separated folder path such as `Booking.Inbound`; empty when not given."""
    text = str(value).strip()
    if not text:
        return ""
    if not text.isprintable():
        raise ValueError("expected one folder path on one line, such as Booking.Inbound")
    if any(not part.strip() for part in text.split(".")):
        raise ValueError(
            "expected a dot-separated folder path such as Booking.Inbound, without empty parts"
        )
    return text


MIN_API_KEY_LENGTH = 16


def parse_api_key(value: Any) -> SecretStr:
    """A plausible key, refused without ever echoing it. Printable ASCII (a header value must
    encode), no quote or backslash (so no JSON or XML escaping can hide it from redaction), and
    long enough, with a letter, that redacting it cannot rewrite ids, counts or other numbers."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    key = raw.strip()  # pasted secrets often carry a trailing newline
    if not key:
        # Why it is empty (a missing secret, a fork's pull request) is told once, by the caller
        # that knows the context.
        raise ValueError("expected a Cekura API key, got an empty value")
    if any(ch.isspace() for ch in key):
        raise ValueError("expected a single-line key without spaces")
    if not key.isascii() or not key.isprintable() or '"' in key or "\\" in key:
        raise ValueError(
            "expected a key of printable ASCII characters (the value holds other characters: "
            "check what was pasted into the secret)"
        )
    if len(key) < MIN_API_KEY_LENGTH or not any(ch.isalpha() for ch in key):
        raise ValueError(
            f"expected a Cekura API key (at least {MIN_API_KEY_LENGTH} characters with letters): "
            "this value is too short to be one"
        )
    return SecretStr(key)


def parse_github_token(value: Any) -> SecretStr | None:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    token = raw.strip()
    if not token:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ValueError("expected a single-line token without spaces")
    return SecretStr(token)


# Validators sit outside the optional so a refusal is one error, not one per union member.
Ids = Annotated[tuple[int, ...], BeforeValidator(parse_id_list)]
OptionalIds = Annotated[tuple[int, ...] | None, BeforeValidator(parse_id_list)]
OptionalNames = Annotated[tuple[str, ...] | None, BeforeValidator(parse_name_list)]
Percent = Annotated[float, BeforeValidator(parse_percent)]
OptionalPercent = Annotated[float | None, BeforeValidator(parse_percent)]
Flag = Annotated[bool, BeforeValidator(parse_bool)]
Path = Annotated[str, BeforeValidator(parse_path)]
OptionalPositiveInt = Annotated[int | None, BeforeValidator(bounded_int(1))]
Tags = Annotated[tuple[str, ...], BeforeValidator(parse_tags)]
Folder = Annotated[str, BeforeValidator(parse_folder)]


def _input(
    default: Any = ...,
    *,
    group: str,
    description: str,
    action_default: str | None = None,
) -> Any:
    """A Settings field: its default, its description and the README table it is listed in.

    `action_default` is what action.yml declares instead, when the runner should fill in an
    expression (`${{ github.token }}`) that means nothing outside GitHub Actions."""
    extra: dict[str, Any] = {"group": group}
    if action_default is not None:
        extra["action_default"] = action_default
    return Field(default, description=description, json_schema_extra=extra)


CONNECTION = "Connection"
SELECTION = "What runs"
JUDGING = "Judging"
COMPARING = "Comparison with the base branch"
WAITING = "Waiting"
REPORTS = "Reports"
COST = "Cost"


class Settings(BaseModel):
    """Everything one gate run needs, validated. Each input is declared here and only here: the
    field order is action.yml's input order, and action.yml, the README's tables and the CLI's
    flags are generated from these fields (`python scripts/generate_docs.py`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: Annotated[SecretStr, BeforeValidator(parse_api_key)] = _input(
        group=CONNECTION,
        description="Cekura API key, sent as the X-CEKURA-API-KEY header. Pass it from a secret.",
    )
    agent_id: OptionalPositiveInt = _input(
        None,
        group=SELECTION,
        description="Cekura agent id to test (sent as `agent`). Required unless `result_id` is given.",
    )
    scenario_ids: Ids = _input(
        (),
        group=SELECTION,
        description="Scenario ids to run: positive integers separated by commas, spaces or "
        "newlines. One of the selectors (`scenario_ids`, `scenario_tags`, `scenario_folder`, "
        "`scenarios_file`, `rerun_failed_from`) is required unless `result_id` is given; the "
        "scenarios they choose are run together, each once.",
    )
    scenario_tags: Tags = _input(
        (),
        group=SELECTION,
        description="Also run the agent's scenarios that carry these tags (separated by commas or "
        "newlines; combined as `tag_match` says), looked up in Cekura before the run.",
    )
    tag_match: Literal["any", "all", "none"] = _input(
        "any",
        group=SELECTION,
        description="How `scenario_tags` choose: scenarios with `any` of the tags, with `all` of "
        "them, or with `none` of them (Cekura's `tag_filter_type` or, and, not).",
    )
    scenario_folder: Folder = _input(
        "",
        group=SELECTION,
        description="Also run the agent's scenarios in this folder, subfolders included "
        "(dot-separated: `Booking` includes `Booking.Inbound`). With `scenario_tags`, only the "
        "tagged scenarios in the folder.",
    )
    scenarios_file: Path = _input(
        "",
        group=SELECTION,
        description="Also run the scenarios a YAML or JSON file of the repository lists "
        "(relative to the workspace), each as `scenario: <id>` with an optional "
        "`publish_data_message` object, which is sent to the LiveKit room exactly as written.",
    )
    rerun_failed_from: OptionalPositiveInt = _input(
        None,
        group=SELECTION,
        description="A result id: run only the scenarios that did not pass in that result (with "
        "other selectors, only those of theirs). When every one passed, say so and exit 0 "
        "without a run.",
    )
    frequency: Annotated[int, BeforeValidator(bounded_int(1, 100))] = _input(
        1, group=SELECTION, description="How many times each scenario runs (1–100)."
    )
    pass_threshold: Percent = _input(
        100.0,
        group=JUDGING,
        description="Percent of runs that must pass for the gate to pass (0–100; `95` or `95%`).",
    )
    scenario_pass_threshold: OptionalPercent = _input(
        None,
        group=JUDGING,
        description="Optional percent every scenario must reach on its own, e.g. `66` for 2 of 3 "
        "runs.",
    )
    infra_failures: Literal["fail", "ignore"] = _input(
        "fail",
        group=JUDGING,
        description="`fail` counts runs that never connected or errored before the conversation "
        "against the pass rate; `ignore` leaves them out of it (they are still reported).",
    )
    baseline: Annotated[str, BeforeValidator(parse_baseline)] = _input(
        "",
        group=COMPARING,
        description="What to compare this result with: empty compares with nothing; `auto` finds "
        "the newest finished result of the same agent on the base branch (by the default result "
        "names); a result id; or the path of a JSON report written earlier with `report_file`. "
        "When none is found the gate says so and judges on the thresholds alone.",
    )
    baseline_branch: Annotated[str, BeforeValidator(parse_branch)] = _input(
        "",
        group=COMPARING,
        description="Branch whose results `baseline: auto` and `history` look at. Default: the "
        "branch a pull request merges into; outside a pull request, `baseline: auto` looks at the "
        "repository's default branch and `history` at the branch being tested.",
    )
    baseline_max_age_days: Annotated[int, BeforeValidator(bounded_int(1, 3650))] = _input(
        14,
        group=COMPARING,
        description="A baseline older than this many days is still used, with a warning.",
    )
    regression_max_p: Annotated[float | None, BeforeValidator(parse_probability)] = _input(
        None,
        group=COMPARING,
        description="When set (e.g. `0.05`), a scenario that dropped below its bar counts as "
        "regressed only if the one-sided Fisher exact p-value of the drop is at most this; "
        "otherwise it is shown as within noise.",
    )
    gate_on: Literal["auto", "threshold", "regressions", "both"] = _input(
        "auto",
        group=COMPARING,
        description="What fails the gate: `threshold` (the pass thresholds), `regressions` (a "
        "scenario that met its bar on the baseline and misses it now; the thresholds are still "
        "shown), `both`; `auto` is `regressions` when a baseline was found, else `threshold`.",
    )
    history: Annotated[int, BeforeValidator(bounded_int(0, 30))] = _input(
        0,
        group=COMPARING,
        description="Show each scenario's outcomes in the last N finished results of the agent on "
        "the branch a pull request merges into (elsewhere: this branch; `baseline_branch` "
        "overrides both), and a pass-rate trend chart (0–30; 0 shows none).",
    )
    name: Annotated[str, BeforeValidator(parse_name)] = _input(
        "",
        group=SELECTION,
        description="Name of the Cekura result. Default: `cekura-ci · owner/repo · <branch or PR "
        "#n> · <sha> · run <id>.<attempt> · <job> · <random token>`, unique per step and findable "
        "by its stable start (`cekura-ci · owner/repo · <branch> · `).",
    )
    personality_ids: OptionalIds = _input(
        None, group=SELECTION, description="Personality ids to override for this run."
    )
    test_profile_ids: OptionalIds = _input(
        None, group=SELECTION, description="Test profile ids to override for this run."
    )
    mock_tool_names: OptionalNames = _input(
        None,
        group=SELECTION,
        description="Mock tools to activate, separated by commas or newlines; `[]` mocks none. "
        "Omitted: Cekura mocks every tool configured on the agent.",
    )
    concurrency_limit: OptionalPositiveInt = _input(
        None, group=SELECTION, description="Cap on how many of this run's calls execute at once."
    )
    livekit_data: Annotated[dict[str, Any] | None, BeforeValidator(parse_livekit_data)] = _input(
        None,
        group=SELECTION,
        description="Per-run LiveKit overrides as a JSON object: "
        '`{"agent_name": …, "url": …, "config": {…}}` (at most 100,000 characters, nested at '
        "most 32 levels).",
    )
    api_url: Annotated[str, BeforeValidator(parse_api_url)] = _input(
        DEFAULT_API_URL,
        group=CONNECTION,
        description="Base URL of the Cekura API: https, or plain http only to this machine "
        "(a local stand-in).",
    )
    timeout: Annotated[float, BeforeValidator(bounded_seconds(0, DAY, exclusive=True))] = _input(
        3600.0,
        group=WAITING,
        description="Seconds to wait for the result before giving up with outcome `timeout` "
        "(at most 86400).",
    )
    poll_interval: Annotated[float | Literal["auto"], BeforeValidator(parse_poll_interval)] = (
        _input(
            "auto",
            group=WAITING,
            description="`auto`: poll slowly while the result is queued or far from done and every "
            "few seconds once its calls have ended, never more often overall than every 30 s. A "
            "number: seconds between two polls (1–3600).",
        )
    )
    max_outage: Annotated[float, BeforeValidator(bounded_seconds(0, DAY, exclusive=True))] = _input(
        600.0,
        group=WAITING,
        description="Seconds of consecutive API failures (5xx, 429, timeouts, dropped "
        "connections) to ride out before giving up with outcome `error` (at most 86400).",
    )
    request_timeout: Annotated[float, BeforeValidator(bounded_seconds(1, 600))] = _input(
        DEFAULT_REQUEST_TIMEOUT,
        group=CONNECTION,
        description="Seconds one HTTP request may take, from connecting to the last byte (1–600).",
    )
    result_id: OptionalPositiveInt = _input(
        None,
        group=SELECTION,
        description="Wait for, judge and report this existing result instead of starting a run "
        "(useful when a job is re-run).",
    )
    max_runs: Annotated[int, BeforeValidator(bounded_int(0))] = _input(
        500,
        group=COST,
        description="Refuse to start a run (exit 2, nothing sent) that would place more calls than "
        "this: scenarios × frequency × personalities × test profiles (when overridden). `0`: no "
        "limit.",
    )
    dry_run: Flag = _input(
        False,
        group=COST,
        description="Do everything up to starting the run, then stop with exit 0: resolve the "
        "selection, check that the agent and every scenario exist, print the exact request body, "
        "the number of calls and, where Cekura can price it, the estimated cost and the credits "
        "left. Nothing is started or charged.",
    )
    end_calls_on_cancel: Flag = _input(
        True,
        group=WAITING,
        description="End the result's live calls when the job is cancelled or times out.",
    )
    share_link: Flag = _input(
        False,
        group=REPORTS,
        description="Create a public link to the result (anyone holding it can read the "
        "transcripts) and put it in the summary and the `result_url` output.",
    )
    share_link_ttl_hours: Annotated[int, BeforeValidator(bounded_int(1, 8760))] = _input(
        72, group=REPORTS, description="Hours until the share link expires (1–8760)."
    )
    summary_file: Path = _input(
        "cekura-summary.md",
        group=REPORTS,
        description="Where to write the Markdown summary (relative to the workspace).",
    )
    junit_file: Path = _input(
        "", group=REPORTS, description="Where to write a JUnit XML report; empty writes none."
    )
    report_file: Path = _input(
        "", group=REPORTS, description="Where to write the JSON report; empty writes none."
    )
    comment: Literal["off", "update", "new"] = _input(
        "off",
        group=REPORTS,
        description="Pull-request comment with the verdict: `off`; `update` keeps one comment per "
        "workflow, job and matrix entry up to date; `new` adds a comment on every run. Needs "
        "`permissions: pull-requests: write`; a failure to comment is a warning, never a "
        "changed verdict.",
    )
    github_token: Annotated[SecretStr | None, BeforeValidator(parse_github_token)] = _input(
        None,
        group=REPORTS,
        description="Token that writes the comment. Default: the job's token.",
        action_default="${{ github.token }}",
    )
    comment_key: Annotated[str, BeforeValidator(lambda v: " ".join(str(v).split()))] = _input(
        "",
        group=REPORTS,
        description="What tells this step's comment apart from others on the pull request, with "
        "the workflow and the job. Default: the job's matrix values; set it when one job runs the "
        "gate more than once.",
        action_default="${{ toJSON(matrix) }}",
    )

    @classmethod
    def input_names(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def action_default_text(cls, name: str) -> str:
        """An input's default in action.yml: an expression the runner evaluates, or default_text."""
        extra = cls.model_fields[name].json_schema_extra or {}
        action_default = extra.get("action_default") if isinstance(extra, dict) else None
        return str(action_default) if action_default is not None else cls.default_text(name)

    @classmethod
    def default_text(cls, name: str) -> str:
        """An input's default as the runner would pass it: a string, empty when there is none."""
        default = cls.model_fields[name].default
        if default is PydanticUndefined or default is None or default == ():
            return ""
        if isinstance(default, bool):
            return str(default).lower()
        if isinstance(default, float):
            return f"{default:g}"
        return str(default)

    @classmethod
    def from_inputs(cls, raw: Mapping[str, str | None]) -> Settings:
        """Validate raw string inputs; an empty string means "not given" and takes the default."""
        given = {
            k: v for k, v in raw.items() if v is not None and (k == "api_key" or str(v).strip())
        }
        given.setdefault("api_key", "")
        unknown = sorted(set(given) - set(cls.model_fields))
        if unknown:
            raise SettingsError([(name, "is not an input of cekura-ci") for name in unknown])
        try:
            settings = cls.model_validate(given)
        except ValidationError as exc:
            raise SettingsError([_problem(err, given) for err in exc.errors()]) from None
        settings.check_run_or_result()
        settings.check_comparison()
        return settings

    def check_comparison(self) -> None:
        """Gating on regressions needs something to compare with."""
        if self.gate_on in ("regressions", "both") and not self.baseline:
            raise SettingsError(
                [
                    (
                        "gate_on",
                        f"{self.gate_on} needs a baseline: set baseline to auto, a result id or a report file",
                    )
                ]
            )

    def check_run_or_result(self) -> None:
        """A run needs an agent and a selector, unless it waits for an existing result."""
        if self.result_id is not None:
            if self.dry_run:
                raise SettingsError(
                    [
                        (
                            "dry_run",
                            "expected false with result_id: a dry run plans a new run, "
                            "result_id waits for one that exists",
                        )
                    ]
                )
            return
        if self.agent_id is None:
            raise SettingsError(
                [("agent_id", "expected a positive integer agent id (or a result_id to wait for)")]
            )
        if not any(getattr(self, name) for name in SELECTORS):
            raise SettingsError(
                [
                    (
                        "scenario_ids",
                        "expected at least one scenario id, or scenario_tags, scenario_folder, "
                        "scenarios_file or rerun_failed_from to choose scenarios (or a result_id "
                        "to wait for)",
                    )
                ]
            )


#: The inputs that choose scenarios; any one of them is enough for a run.
SELECTORS = (
    "scenario_ids",
    "scenario_tags",
    "scenario_folder",
    "scenarios_file",
    "rerun_failed_from",
)


def read_inputs(environ: Mapping[str, str], prefix: str) -> dict[str, str | None]:
    """Every input from `<prefix><NAME>` variables: INPUT_AGENT_ID (the action) or CEKURA_AGENT_ID
    (the command line). The one way in from the environment."""
    return {name: environ.get(prefix + name.upper()) for name in Settings.model_fields}


def _problem(error: Any, given: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error → (input name, 'got X; expected Y'), never showing the key."""
    message = str(error.get("ctx", {}).get("error") or error["msg"])
    name = str(error["loc"][0])
    if error["type"] == "literal_error":
        message = "expected one of " + str(error.get("ctx", {}).get("expected", ""))
    if name in ("api_key", "github_token"):
        return name, message
    value = given.get(name)
    shown = "" if value is None else f"got {clip(str(value), 60)!r}; "
    return name, shown + message
