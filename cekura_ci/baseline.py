"""Finding the baseline (the `baseline` input): `auto`, a result id, or a JSON report file.

`auto` is the newest finished result of the same agent on the base branch, found by the stable
start of the names cekura-ci gives its results (`cekura-ci · owner/repo · <branch> · `). Whatever
goes wrong (nothing found, the list refused, an unreadable file) becomes a plain note and no
baseline: the gate then judges on the thresholds alone and never fails for want of a baseline.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cekura_ci.comparison import Baseline, ScenarioTally
from cekura_ci.context import NAME_SEPARATOR, NAME_TAG, RunContext
from cekura_ci.earlier import FINISHED, Earlier
from cekura_ci.errors import Cancelled, CekuraCIError
from cekura_ci.gating import baseline_of, judged_runs, parse_time
from cekura_ci.settings import Settings
from cekura_ci.text import clip, encodable, one_line
from cekura_ci.verdict import SCHEMA_VERSION, Policy, judge

log = logging.getLogger(__name__)

#: While skipping newest results that cannot serve (no run held a conversation), how many
#: details `auto` fetches at most.
MAX_CANDIDATES = 3
#: A report file larger than this is not read.
MAX_REPORT_BYTES = 200 * 1024 * 1024
#: Scenarios (per personality and test profile) a report can hold: a run request places at most
#: 10,000 calls. A file listing a million once took the step two minutes, 5 GB and a 685 MB
#: report of its own.
MAX_REPORT_SCENARIOS = 10_000
THRESHOLDS_DECIDE = "The thresholds decide."


@dataclass(frozen=True)
class Found:
    baseline: Baseline | None
    #: What to tell the reader: why there is none, or what to know about the one found.
    notes: list[str] = field(default_factory=list)


class NoBaseline(Exception):
    """Why no baseline could be used; the message is a note for the summary."""


def base_branch(settings: Settings, context: RunContext) -> str:
    """What `auto` compares with: the `baseline_branch` input, else the branch a pull request
    merges into, else the repository's default branch."""
    return settings.baseline_branch or context.base_branch


#: A branch read from a result's name is API text shown in headings, rules and notes: at most
#: this long (Git allows far longer names; GitHub refuses refs over 255 bytes).
BRANCH_LIMIT = 100


def name_parts(name: str | None) -> tuple[str | None, str | None]:
    """(branch or `PR #n`, short commit) of a default result name; Nones for any other name."""
    parts = (name or "").split(NAME_SEPARATOR)
    if len(parts) < 4 or parts[0] != NAME_TAG:
        return None, None
    commit = parts[3] if re.fullmatch(r"[0-9a-f]{7,40}", parts[3]) else None
    return one_line(parts[2], BRANCH_LIMIT) or None, commit


def find(
    settings: Settings,
    context: RunContext,
    earlier: Earlier,
    *,
    policy: Policy,
    exclude_id: int | None,
) -> Found:
    """The baseline the inputs ask for, judged with the same policy as this result."""
    wanted = settings.baseline
    if not wanted:
        return Found(None)
    try:
        if wanted == "auto":
            return _auto(settings, context, earlier, policy=policy, exclude_id=exclude_id)
        if wanted.isdigit():
            return _by_id(int(wanted), earlier, policy=policy, exclude_id=exclude_id)
        return Found(read_report(wanted))
    except NoBaseline as exc:
        note = f"No baseline: {exc} {THRESHOLDS_DECIDE}"
    except Cancelled:
        raise  # the job is being cancelled: not a missing baseline
    except CekuraCIError as exc:
        note = f"No baseline: looking for it failed ({str(exc).rstrip('.')}). {THRESHOLDS_DECIDE}"
    log.warning("%s", note)
    return Found(None, [note])


def _auto(
    settings: Settings,
    context: RunContext,
    earlier: Earlier,
    *,
    policy: Policy,
    exclude_id: int | None,
) -> Found:
    branch = base_branch(settings, context)
    if not context.repository:
        raise NoBaseline(
            "`auto` finds earlier results by the names cekura-ci gives them on GitHub Actions, "
            "and this run has no repository (GITHUB_REPOSITORY). Pass a result id or a report "
            "file as the baseline instead."
        )
    if not branch:
        raise NoBaseline(
            "the base branch is unknown (no pull request, and the event does not name the "
            "default branch): set the baseline_branch input."
        )
    prefix = context.name_prefix(branch)
    listing = earlier.named(prefix, exclude_id)
    notes = []
    skipped: list[int] = []
    if not listing.complete:
        notes.append(
            f"The results list had more than {earlier.max_pages} pages of results named like "
            f"{branch}'s; the newest of those read was used."
        )
    for row in listing.results[:MAX_CANDIDATES]:
        result = earlier.detail(row.id)
        if result.status not in FINISHED:
            continue  # the list was behind: it is still going, or was cut short
        verdict = judge(result, policy)
        if not any(judged_runs(s) for s in verdict.scenarios):
            notes.append(f"Result {result.id} was skipped: no run of it held a conversation.")
            skipped.append(result.id)
            continue
        if listing.newer_unfinished:
            ids = ", ".join(str(r.id) for r in listing.newer_unfinished[:3])
            notes.append(
                f"Newer results on {branch} ({ids}) had not finished or were cut short; the "
                "newest finished one was used."
            )
        _, commit = name_parts(result.name)
        log.info("Baseline: result %s on %s.", result.id, branch)
        return Found(baseline_of(verdict, source="auto", branch=branch, commit=commit), notes)
    if skipped:
        ids = ", ".join(map(str, skipped))
        raise NoBaseline(
            f"the newest finished {'results' if len(skipped) > 1 else 'result'} {ids} on "
            f"{branch} held no conversation (every run an infrastructure failure, or no run at "
            "all), so there is nothing to compare the agent with."
        )
    raise NoBaseline(
        f"no finished result of agent {earlier.agent_id} on {branch} was found (results named "
        f"{prefix.strip()} …). The first time this is expected: run the gate on {branch} (on push "
        "or nightly, with the default result names) to give pull requests a baseline."
    )


def _by_id(result_id: int, earlier: Earlier, *, policy: Policy, exclude_id: int | None) -> Found:
    if result_id == exclude_id:
        raise NoBaseline(f"result {result_id} is the one this step judged.")
    result = earlier.detail(result_id)
    if result.status not in FINISHED:
        raise NoBaseline(f"result {result_id} has not finished (status {result.status}).")
    notes = []
    if earlier.agent_id is not None and result.agent not in (None, earlier.agent_id):
        notes.append(
            f"Baseline result {result_id} is of agent {result.agent}, not {earlier.agent_id}."
        )
    branch, commit = name_parts(result.name)
    verdict = judge(result, policy)
    return Found(baseline_of(verdict, source="result", branch=branch, commit=commit), notes)


# --- a JSON report written earlier with report_file -------------------------------------------


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("not a count")
    number = float(value)
    if not math.isfinite(number):  # "1e400", Infinity: int() would raise OverflowError
        raise ValueError("not a count")
    return max(0, int(number))


def _text(value: Any) -> str | None:
    """A name from the file, safe to write: lone surrogates (legal in JSON) become U+FFFD."""
    return encodable(value) if isinstance(value, str) else None


class _ReportScenario(BaseModel):
    """A scenario of the JSON report, read as leniently as its versions differ: fields added
    later (`unfinished`) default, counts missing in older reports come from its runs."""

    model_config = ConfigDict(extra="ignore")

    scenario_id: int | None = None
    scenario_name: str | None = None
    personality_name: str | None = None
    test_profile_name: str | None = None
    total: int | None = None
    passed: int | None = None
    infra_failures: int | None = None
    unfinished: int = 0
    runs: list[dict[str, Any]] = []

    @field_validator("total", "passed", "infra_failures", "unfinished", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> Any:
        return None if value is None else _count(value)

    def tally(self) -> ScenarioTally:
        kinds = [str(r.get("kind", "")) for r in self.runs if isinstance(r, dict)]
        total = self.total if self.total is not None else len(kinds)
        passed = self.passed if self.passed is not None else kinds.count("passed")
        infra = self.infra_failures
        if infra is None:
            infra = kinds.count("infra_failure")
        unfinished = self.unfinished or kinds.count("unfinished")
        if self.scenario_id is None and not self.scenario_name:
            raise ValueError("a scenario with neither id nor name")
        return ScenarioTally(
            scenario_id=self.scenario_id,
            scenario_name=_text(self.scenario_name) or f"Scenario {self.scenario_id}",
            personality_name=_text(self.personality_name),
            test_profile_name=_text(self.test_profile_name),
            passed=min(passed, total),
            judged=max(0, total - infra - unfinished),
        )


def read_report(path: str) -> Baseline:
    """The baseline a JSON report (`report_file`) holds; no API call. Reports of schema version 1
    are read whatever fields a later 1.x added; a newer schema version is refused, since its
    fields may mean something else."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_REPORT_BYTES:
            raise NoBaseline(f"the report file {path!r} is larger than 200 MB.")
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except RecursionError:  # nested deeper than the parser's stack; no report of ours is
        raise NoBaseline(f"the report file {path!r} is not a cekura-ci JSON report.") from None
    except FileNotFoundError:
        raise NoBaseline(f"the report file {path!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NoBaseline(f"the report file {path!r} could not be read ({exc}).") from None
    except ValueError:
        raise NoBaseline(f"the report file {path!r} is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise NoBaseline(f"{path!r} is not a cekura-ci JSON report (it has no scenarios).")
    if len(data["scenarios"]) > MAX_REPORT_SCENARIOS:
        raise NoBaseline(
            f"{path!r} lists {len(data['scenarios']):,} scenarios; a cekura-ci report of one "
            f"result holds at most {MAX_REPORT_SCENARIOS:,}."
        )
    version = data.get("schema_version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        shown = json.dumps(version) if isinstance(version, (str, int, float)) else "of another kind"
        raise NoBaseline(
            f"{path!r} has schema_version {clip(one_line(shown), 40)}, which is not a version "
            "cekura-ci writes."
        )
    if version is not None and version > SCHEMA_VERSION:
        raise NoBaseline(
            f"{path!r} was written by a newer cekura-ci (schema_version {version}); this one "
            f"reads schema_version {SCHEMA_VERSION}."
        )
    outcome = data.get("outcome")
    if outcome not in (None, "passed", "failed"):
        raise NoBaseline(f"the run that wrote {path!r} did not finish (outcome {outcome}).")
    try:
        tallies = [
            _ReportScenario.model_validate(s).tally()
            for s in data["scenarios"]
            if isinstance(s, dict)
        ]
    except (ValidationError, ValueError, RecursionError):
        raise NoBaseline(f"the scenarios of {path!r} could not be read.") from None
    name = _text(data.get("result_name"))
    result_id = data.get("result_id")
    branch, commit = name_parts(name)
    url = data.get("result_url")
    return Baseline(
        source="file",
        result_id=result_id
        if isinstance(result_id, int) and not isinstance(result_id, bool)
        else None,
        result_name=name,
        created_at=parse_time(str(data.get("result_created_at") or "")),
        branch=branch,
        commit=commit,
        url=url if isinstance(url, str) and url.startswith("https://") else None,
        scenarios=tallies,
    )
