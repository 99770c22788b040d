"""The HTTP server around EmulatedCekura: loopback, one thread per connection, real status codes."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .api import EmulatedCekura, LoggedRequest
from .world import World

MAX_BODY = 1_000_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without this, Nagle and delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isascii() or not declared.isdigit():  # negative or not a number
            self.send_error(400, "Bad Content-Length")
            return
        length = int(declared)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        reply = self.server.emulator.handle(
            self.command, self.path, headers, body, f"http://{host}"
        )
        if reply.action == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.action == "slow":
            time.sleep(reply.delay)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        return  # requests are in the request log; stderr stays quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: EmulatedCekura


class EmulatorServer:
    """A running stand-in: `url` to point clients at, `requests` to assert on."""

    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.emulator = (
            EmulatedCekura(world, clock) if wall is None else EmulatedCekura(world, clock, wall)
        )
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self.emulator
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.emulator.requests

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.5)

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self.serve_forever, name="cekura-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: the serving loop waits in select() between its polls, so a connection of
        our own wakes it to see that it must stop (tests start and stop hundreds of these)."""
        stopping = threading.Thread(target=self._server.shutdown, daemon=True)
        if self._thread is not None:  # a loop runs that must be told; otherwise there is none
            stopping.start()
        while stopping.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(self._server.server_address[:2], timeout=1).close()
            stopping.join(timeout=0.05)
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)


@contextlib.contextmanager
def running(world: World, **kwargs: object) -> Iterator[EmulatorServer]:
    server = EmulatorServer(world, **kwargs).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
