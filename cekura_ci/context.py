"""What we read of the CI run's context: repository, branches, commit, run, job, event payload.

One place reads the runner's `GITHUB_*` variables and the event payload; the result's default name,
the name prefix that finds earlier results of a branch, and the base branch all come from here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cekura_ci.settings import MAX_NAME_LENGTH

#: Joins the parts of a default result name; also ends the searchable prefix.
NAME_SEPARATOR = " · "
NAME_TAG = "cekura-ci"


def _event_payload(path: str | None) -> dict[str, Any]:
    """The webhook payload of the event that started the workflow; {} if unreadable."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


@dataclass(frozen=True)
class RunContext:
    """The CI context of this step; empty strings where it says nothing (e.g. on a laptop)."""

    repository: str = ""
    ref_name: str = ""
    head_ref: str = ""
    base_ref: str = ""
    sha: str = ""
    run_id: str = ""
    run_attempt: str = ""
    job: str = ""
    workflow: str = ""
    workflow_ref: str = ""
    event_name: str = ""
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    default_branch: str = ""
    pull_request: int | None = None
    #: owner/repo of the pull request's head branch; another repository's means a fork.
    head_repository: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RunContext:
        payload = _event_payload(environ.get("GITHUB_EVENT_PATH"))
        repository = payload.get("repository")
        default_branch = repository.get("default_branch") if isinstance(repository, dict) else ""
        pull = payload.get("pull_request")
        number = pull.get("number") if isinstance(pull, dict) else None
        head = pull.get("head") if isinstance(pull, dict) else None
        head_repo = head.get("repo") if isinstance(head, dict) else None
        head_repository = head_repo.get("full_name") if isinstance(head_repo, dict) else ""
        ref_match = re.fullmatch(r"(\d+)/merge", environ.get("GITHUB_REF_NAME", ""))
        if not isinstance(number, int) and ref_match:
            number = int(ref_match.group(1))
        return cls(
            repository=_text(environ.get("GITHUB_REPOSITORY", "")),
            ref_name=_text(environ.get("GITHUB_REF_NAME", "")),
            head_ref=_text(environ.get("GITHUB_HEAD_REF", "")),
            base_ref=_text(environ.get("GITHUB_BASE_REF", "")),
            sha=_text(environ.get("GITHUB_SHA", "")),
            run_id=_text(environ.get("GITHUB_RUN_ID", "")),
            run_attempt=_text(environ.get("GITHUB_RUN_ATTEMPT", "")),
            job=_text(environ.get("GITHUB_JOB", "")),
            workflow=_text(environ.get("GITHUB_WORKFLOW", "")),
            workflow_ref=_text(environ.get("GITHUB_WORKFLOW_REF", "")),
            event_name=_text(environ.get("GITHUB_EVENT_NAME", "")),
            server_url=(environ.get("GITHUB_SERVER_URL") or cls.server_url).rstrip("/"),
            api_url=(environ.get("GITHUB_API_URL") or cls.api_url).rstrip("/"),
            default_branch=_text(default_branch or ""),
            pull_request=number if isinstance(number, int) and number > 0 else None,
            head_repository=_text(head_repository or ""),
        )

    @property
    def on_ci(self) -> bool:
        return bool(self.repository)

    @property
    def branch(self) -> str:
        """The branch this step tests: a pull request's head branch, else the pushed ref."""
        if self.pull_request is not None:
            return self.head_ref
        return self.ref_name

    @property
    def base_branch(self) -> str:
        """What this change merges into: the pull request's base, else the default branch."""
        return self.base_ref if self.pull_request is not None else self.default_branch

    @property
    def from_fork(self) -> bool:
        """A pull request whose head branch lives in another repository."""
        return bool(self.head_repository) and self.head_repository != self.repository

    @property
    def workflow_file(self) -> str | None:
        """The running workflow's file in its repository (`.github/workflows/gate.yml`), from
        `owner/repo/.github/workflows/gate.yml@refs/…`; None when unknown."""
        path = self.workflow_ref.split("@", 1)[0]
        prefix = self.repository + "/"
        if not self.repository or not path.startswith(prefix + ".github/workflows/"):
            return None
        return path[len(prefix) :]

    @property
    def run_url(self) -> str | None:
        """The workflow run's page, where the job summary is shown."""
        if not (self.repository and self.run_id):
            return None
        attempt = f"/attempts/{self.run_attempt}" if self.run_attempt else ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}{attempt}"

    def name_prefix(self, branch: str) -> str:
        """The stable start of every default name given on `branch` of this repository.

        `cekura-ci · owner/repo · main · `: searching for it finds the results that cekura-ci
        started on that branch, and the trailing separator keeps `main` from matching `main-2`.
        """
        return NAME_SEPARATOR.join((NAME_TAG, self.repository, branch)) + NAME_SEPARATOR

    def result_name(self, token: str | None = None) -> str:
        """A unique, findable default name for the result this step starts.

        On CI: `cekura-ci · owner/repo · <branch or PR #n> · <sha7> · run <id>.<attempt> · <job> ·
        <token>`. The prefix up to the branch never changes (see `name_prefix`); what follows is
        shortened first when the whole would pass Cekura's 255-character limit.
        """
        token = token or secrets.token_hex(3)
        if not self.on_ci:
            return f"{NAME_TAG} local {token}"
        where = f"PR #{self.pull_request}" if self.pull_request is not None else self.branch
        prefix = self.name_prefix(where)
        run = f"run {self.run_id or '?'}.{self.run_attempt or '1'}"
        commit_and_run = [p for p in (self.sha[:7], run) if p]
        name = prefix + NAME_SEPARATOR.join(
            [*commit_and_run, *([self.job] if self.job else []), token]
        )
        if len(name) > MAX_NAME_LENGTH:  # a very long job name or branch: keep the token
            name = prefix + NAME_SEPARATOR.join([*commit_and_run, token])
        if len(name) > MAX_NAME_LENGTH:
            name = name[: MAX_NAME_LENGTH - len(token) - 1] + "…" + token
        return name
