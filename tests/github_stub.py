"""A loopback stand-in for the part of GitHub's REST API the pull-request comment uses.

A test double, not a product: `GET /user`, `GET/POST /repos/{o}/{r}/issues/{n}/comments` (paged
with a Link header, as GitHub pages), `PATCH /repos/{o}/{r}/issues/comments/{id}`. It checks the
token, answers 403 to a read-only token's writes as GitHub answers a fork's, 422 to a body over
65,536 characters, and records every request. It serves under any path prefix, so
`http://127.0.0.1:PORT/api/v3` stands for GitHub Enterprise Server.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BODY_LIMIT = 65_536


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class GitHubStub:
    token: str = "ghs_stub_token_8f2a"
    #: The token's user; None: `GET /user` answers 403, as it does for the job's own token.
    login: str | None = None
    read_only: bool = False
    #: Answer every request with this status instead (e.g. 500).
    fail_with: int | None = None
    body_limit: int = BODY_LIMIT
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    prefix: str = ""

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # --- the double's own API ---------------------------------------------------------------

    def add_comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        with self._lock:
            comment = {
                "id": 1000 + len(self.comments),
                "number": number,
                "body": body,
                "user": {"login": login},
                "html_url": f"https://github.example/acme/agent/pull/{number}"
                f"#issuecomment-{1000 + len(self.comments)}",
            }
            self.comments.append(comment)
            return comment

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def start(self) -> GitHubStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                stub._serve(self)

            do_GET = do_POST = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- serving ------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        call = Call(handler.command, parts.path, parse_qs(parts.query), dict(handler.headers), body)
        with self._lock:
            self.calls.append(call)
        status, payload, headers = self._answer(call)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        if not call.path.startswith(self.prefix + "/"):
            return 404, {"message": "Not Found"}, {}
        path = call.path[len(self.prefix) :]
        if call.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        if self.fail_with:
            return self.fail_with, {"message": "Server Error"}, {}
        if path == "/user" and call.method == "GET":
            if self.login is None:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, {"login": self.login}, {}
        listing = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", path)
        if listing and call.method == "GET":
            return self._page(int(listing.group(1)), call)
        if listing and call.method == "POST":
            return self._write(
                call,
                lambda text: self.add_comment(
                    int(listing.group(1)), text, self.login or "github-actions[bot]"
                ),
                201,
            )
        single = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", path)
        if single and call.method == "PATCH":
            found = [c for c in self.comments if c["id"] == int(single.group(1))]
            if not found:
                return 404, {"message": "Not Found"}, {}
            return self._write(call, lambda text: found[0].update(body=text) or found[0], 200)
        return 404, {"message": "Not Found"}, {}

    def _write(self, call: Call, apply: Any, status: int) -> tuple[int, Any, dict[str, str]]:
        if self.read_only:
            return 403, {"message": "Resource not accessible by integration"}, {}
        text = (call.body or {}).get("body")
        if not isinstance(text, str):
            return 422, {"message": "Invalid request"}, {}
        if len(text) > self.body_limit:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "IssueComment",
                            "code": "custom",
                            "field": "body",
                            "message": "body is too long (maximum is 65536 characters)",
                        }
                    ],
                },
                {},
            )
        return status, apply(text), {}

    def _page(self, number: int, call: Call) -> tuple[int, Any, dict[str, str]]:
        per_page = int(call.query.get("per_page", ["30"])[0])
        page = int(call.query.get("page", ["1"])[0])
        mine = [c for c in self.comments if c["number"] == number]
        chunk = mine[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(mine):
            base = f"{self.url}{call.path[len(self.prefix) :]}"
            headers["Link"] = (
                f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                f'<{base}?per_page={per_page}&page={-(-len(mine) // per_page)}>; rel="last"'
            )
        return 200, chunk, headers
