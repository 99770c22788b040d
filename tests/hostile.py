"""A loopback HTTP(S) server that misbehaves on purpose: every answer is scripted by the test.

    with Hostile() as server:
        server.on("POST", TRIGGER_PATH, hold())            # never answers the trigger
        server.on("GET", RESULTS_PATH, json_answer(page()))
        ... point api_url at server.url ...
        server.seen("GET")                                 # what reached it, in order

An answer is a function of the request handler that writes to the socket itself, so it can drip,
stall, send a gzip bomb or never finish. Answers given to `on` are used in order; the last repeats.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = Callable[["_Handler"], None]


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        seen = Seen(self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()})
        answer = self.server.hostile.answer_for(self.command, path)
        self.server.hostile.record(seen)
        with contextlib.suppress(
            OSError
        ):  # the client may give up at any moment: that is the point
            answer(self)

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: Hostile

    def handle_error(self, request: object, client_address: object) -> None:
        return  # clients that hang up mid-answer are expected here


class Hostile:
    """The server. `url` to point clients at; `seen()` for what reached it; `stopping` ends every
    answer that is still dripping or holding when the test is over."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self._routes: list[tuple[str, str, list[Answer]]] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def on(self, method: str, path: str, *answers: Answer) -> Hostile:
        """Answer `method path` (a path prefix; the longest registered prefix wins) with `answers`."""
        self._routes.append((method, path, list(answers)))
        return self

    def answer_for(self, method: str, path: str) -> Answer:
        routes = [r for r in self._routes if r[0] == method and path.startswith(r[1])]
        if not routes:
            return json_answer({"detail": "Not found."}, status=404)
        _, _, answers = max(routes, key=lambda r: len(r[1]))
        with self._lock:
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def record(self, seen: Seen) -> None:
        with self.arrived:
            self._seen.append(seen)
            self.arrived.notify_all()

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self._seen
                if (method is None or s.method == method) and (path is None or path in s.path)
            ]

    def wait_for(self, method: str, path: str, count: int = 1, limit: float = 10) -> Seen:
        """Block until the `count`-th such request arrived (real time: a real client is running)."""
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: (
                    len([s for s in self._seen if s.method == method and path in s.path]) >= count
                ),
                timeout=limit,
            )
        assert ok, (
            f"{method} {path} never arrived; seen: {[(s.method, s.path) for s in self._seen]}"
        )
        return self.seen(method, path)[count - 1]


# --- answers ------------------------------------------------------------------------------


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps(data).encode()

    def answer(handler: _Handler) -> None:
        handler.head(
            status,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
                **(headers or {}),
            },
        )
        handler.wfile.write(body)

    return answer


def drip(data: Any, every: float = 0.2, headers_too: bool = False) -> Answer:
    """A valid JSON answer sent one byte at a time: each byte comes well within any read timeout,
    the whole never does. `headers_too` drips the status line and headers as well."""
    body = json.dumps(data).encode()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )

    def answer(handler: _Handler) -> None:
        if not headers_too:
            handler.wfile.write(head)
            handler.wfile.flush()
        for byte in (head if headers_too else b"") + body:
            if handler.server.hostile.stopping.wait(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return answer


def hold(arrived: threading.Event | None = None) -> Answer:
    """Read the request and never answer (until the test ends)."""

    def answer(handler: _Handler) -> None:
        if arrived is not None:
            arrived.set()
        handler.server.hostile.stopping.wait()
        handler.close_connection = True

    return answer


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    def answer(handler: _Handler) -> None:
        handler.head(code, {"Content-Length": str(len(body)), **(headers or {})})
        handler.wfile.write(body)

    return answer


_MIB_OF_ZEROS = gzip.compress(bytes(2**20), compresslevel=9)


def gzip_bomb(mebibytes: int) -> Answer:
    """`mebibytes` MiB of zeros, gzip-encoded as that many 1 MiB members (about 1 KB each)."""
    body = _MIB_OF_ZEROS * mebibytes

    def answer(handler: _Handler) -> None:
        handler.head(
            200,
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(body)),
            },
        )
        handler.wfile.write(body)

    return answer


def self_signed_certificate(directory: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 signed by nobody, made with the openssl command line (the
    `cryptography` package is not a dependency); None when openssl is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
