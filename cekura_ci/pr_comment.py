"""The pull-request comment, through GitHub's REST API at `GITHUB_API_URL` (so GitHub Enterprise
Server works too): created the first time and edited after (`update`), or added on every run (`new`).

The comment is found by a hidden marker among the comments written by the token's own user, one
marker per workflow, job and `comment_key` (by default the job's matrix values). Commenting is best
effort: anything that goes wrong (not a pull request, a fork's read-only token, an API error) is
returned as a warning for the log; it never changes the verdict. The token is only ever put in the
Authorization header; no message of this module contains it.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from cekura_ci import __version__
from cekura_ci.context import RunContext
from cekura_ci.text import one_line
from cekura_ci.timing import CancelToken
from cekura_ci.transport import NotAsked, Stopped, TooLarge, WatchedAdapter, send

#: Seconds for one request, and for the whole comment, however many pages: a comment is not worth
#: holding the job for (and the runner kills a cancelled job seconds after its SIGTERM).
REQUEST_LIMIT = 10.0
TOTAL_LIMIT = 20.0
#: A page of 100 comments of 65,536 characters each is at most about 26 MB of JSON.
MAX_BODY_BYTES = 32 * 1024 * 1024
PER_PAGE = 100
#: Pages of comments looked through for ours (10,000 comments) before making a new one.
MAX_PAGES = 100
#: Who `GET /user` cannot describe: the job's own token is the GitHub Actions app's bot.
ACTIONS_BOT = "github-actions[bot]"


class CommentFailed(Exception):
    """A request about the comment failed; the message says why and what to do, never the token."""


@dataclass(frozen=True)
class Posted:
    action: str  # "created" or "updated"
    url: str


def marker(context: RunContext, key: str) -> str:
    """The hidden first line that finds this step's comment again: one per workflow, job and key.

    A digest, so nothing of the workflow's name or the matrix can end the HTML comment early."""
    workflow = context.workflow_file or context.workflow
    digest = hashlib.sha256(f"{workflow}\n{context.job}\n{key}".encode()).hexdigest()[:16]
    return f"<!-- cekura-ci comment {digest} -->"


def _explain(response: requests.Response, what: str) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    said = one_line(body.get("message", ""), 200) if isinstance(body, dict) else ""
    status = response.status_code
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if status in (401, 403):
        return (
            f"GitHub refused to {what} ({detail}). The token cannot write pull-request comments: "
            "give the job `permissions: pull-requests: write`. A pull request from a fork gets a "
            "read-only token, so its comments cannot be written from a `pull_request` workflow."
        )
    if status == 404:
        return (
            f"GitHub could not find the pull request or comment to {what} ({detail}). Check that "
            "github_token can read this repository."
        )
    if status == 422:
        return f"GitHub refused the comment ({detail})."
    return f"GitHub could not {what} ({detail})."


def _session() -> requests.Session:
    session = requests.Session()
    adapter = WatchedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Comments:
    """The few REST calls a comment needs, on one session with the token, each bounded as a whole
    and all of them by TOTAL_LIMIT, and stopped at once when the job is cancelled."""

    def __init__(
        self,
        api_url: str,
        token: SecretStr,
        session: requests.Session | None = None,
        *,
        cancel: CancelToken | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self.session = session or _session()
        self.cancel = cancel or CancelToken()
        self.deadline = time.monotonic() + TOTAL_LIMIT
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"cekura-ci/{__version__}",
            }
        )

    def _call(self, method: str, url: str, what: str, **kwargs: object) -> requests.Response:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CommentFailed(f"Gave up on the comment: GitHub's API took over {TOTAL_LIMIT:g}s.")
        try:
            return send(
                self.session,
                method,
                url,
                limit=min(REQUEST_LIMIT, left),
                cancel=self.cancel,
                max_body=MAX_BODY_BYTES,
                **kwargs,
            )
        except Stopped as stop:
            why = "the job was cancelled" if stop.cancelled else "no complete answer in time"
            raise CommentFailed(f"Could not {what}: {why}.") from None
        except (requests.RequestException, TooLarge, NotAsked, zlib.error) as exc:
            raise CommentFailed(
                f"Could not reach GitHub's API to {what} ({type(exc).__name__})."
            ) from None

    def login(self) -> str:
        """The token's user. The job's token may not ask (`GET /user` answers 403): its comments
        are written by the GitHub Actions bot."""
        response = self._call("GET", f"{self.api_url}/user", "find the token's user")
        if response.status_code == 200:
            login = response.json().get("login")
            if isinstance(login, str) and login:
                return login
        if response.status_code in (401, 403, 404):
            return ACTIONS_BOT
        raise CommentFailed(_explain(response, "find the token's user"))

    def _same_api(self, url: str) -> bool:
        """A `next` link is followed only to GitHub's API itself: the token goes nowhere else."""
        here, there = urlsplit(self.api_url), urlsplit(url)
        return (here.scheme, here.netloc) == (there.scheme, there.netloc)

    def find(self, repository: str, number: int, mark: str, login: str) -> dict | None:
        """The first comment of `login` on the pull request that carries `mark`, following pages."""
        url: str | None = f"{self.api_url}/repos/{repository}/issues/{number}/comments"
        params: dict[str, object] | None = {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._call("GET", url, "list the pull request's comments", params=params)
            if response.status_code != 200:
                raise CommentFailed(_explain(response, "list the pull request's comments"))
            page = response.json()
            for comment in page if isinstance(page, list) else []:
                user = (comment.get("user") or {}).get("login")
                if user == login and (comment.get("body") or "").startswith(mark):
                    return comment
            url = response.links.get("next", {}).get("url")
            if url is not None and not self._same_api(url):
                raise CommentFailed(
                    "GitHub's API pointed the next page of comments at another host; it was not "
                    "followed, so that the token stays with GITHUB_API_URL."
                )
            params = None  # the next link carries them
        return None

    def create(self, repository: str, number: int, body: str) -> Posted:
        url = f"{self.api_url}/repos/{repository}/issues/{number}/comments"
        return self._write("POST", url, body, "write the comment", 201, "created")

    def update(self, repository: str, comment_id: int, body: str) -> Posted:
        url = f"{self.api_url}/repos/{repository}/issues/comments/{comment_id}"
        return self._write("PATCH", url, body, "update the comment", 200, "updated")

    def _write(
        self, method: str, url: str, body: str, what: str, expected: int, action: str
    ) -> Posted:
        response = self._call(method, url, what, json={"body": body})
        if response.status_code != expected:
            raise CommentFailed(_explain(response, what))
        return Posted(action, str(response.json().get("html_url", "")))


def post(
    body: str,
    *,
    mode: str,
    context: RunContext,
    token: SecretStr | None,
    key: str,
    session: requests.Session | None = None,
    cancel: CancelToken | None = None,
) -> Posted:
    """Write `body` (the marker is added in front) as this step's comment; CommentFailed says why
    not."""
    if context.pull_request is None or not context.repository:
        raise CommentFailed(
            "No pull-request comment: this run is not for a pull request "
            f"(event {context.event_name or 'unknown'})."
        )
    if token is None:
        raise CommentFailed(
            "No pull-request comment: github_token is empty. Leave it unset in the action to use "
            "the job's token, or pass one (CEKURA_GITHUB_TOKEN on the command line)."
        )
    mark = marker(context, key)
    text = f"{mark}\n{body}"
    comments = Comments(context.api_url, token, session, cancel=cancel)
    try:
        if mode == "update":
            existing = comments.find(
                context.repository, context.pull_request, mark, comments.login()
            )
            if existing is not None:
                return comments.update(context.repository, int(existing["id"]), text)
        return comments.create(context.repository, context.pull_request, text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # an answer we cannot read
        raise CommentFailed(
            f"GitHub's API answered in a way cekura-ci cannot read ({type(exc).__name__})."
        ) from None
    finally:
        if session is None:
            comments.session.close()
