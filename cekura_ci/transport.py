"""One HTTP request, bounded as a whole: connecting, the headers and the entire body within
`limit` seconds however slowly the bytes come, the decoded body within `max_body` bytes, and
abandoned within a fraction of a second when the job is cancelled.

The request runs on a worker thread while the caller watches the clock and the cancel token;
stopping it shuts its socket down. Our connection classes record whether a byte of the request
left, so a caller can tell "never sent" (safe to repeat) from "may have reached the server".
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3 import poolmanager as urllib3_poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection

from cekura_ci.timing import CancelToken

_TICK = 0.05
_READ_CHUNK = 1024 * 1024


class Stopped(Exception):
    """The caller gave up on the request: the job was cancelled, or `limit` passed."""

    def __init__(self, *, cancelled: bool, may_have_reached_server: bool) -> None:
        super().__init__("cancelled" if cancelled else "timed out")
        self.cancelled = cancelled
        self.may_have_reached_server = may_have_reached_server


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    limit: float,
    cancel: CancelToken,
    max_body: int,
    **kwargs: Any,
) -> requests.Response:
    """The response with its whole body read (`response.content` is the bytes). Raises Stopped,
    TooLarge, NotAsked, or whatever requests raised on the worker thread."""
    if cancel.cancelled:  # nothing is started once the job is cancelled
        raise Stopped(cancelled=True, may_have_reached_server=False)
    started = time.monotonic()
    exchange = _Exchange(max_body)
    worker = threading.Thread(
        target=exchange.run,
        args=(session, method, url),
        kwargs={
            **kwargs,
            "timeout": (limit, limit),  # per socket operation; the whole is watched below
            "allow_redirects": False,  # a redirect would carry credentials elsewhere
        },
        name=f"cekura-ci {method}",
        daemon=True,  # a request that was given up on never holds the process open
    )
    worker.start()
    try:
        while not exchange.done.wait(_TICK):
            if cancel.cancelled or time.monotonic() - started >= limit:
                raise Stopped(
                    cancelled=cancel.cancelled,
                    may_have_reached_server=exchange.may_have_reached_server,
                )
    finally:
        if not exchange.done.is_set():
            exchange.stop()
    if exchange.error is not None:
        raise exchange.error
    assert exchange.response is not None  # noqa: S101 - run() sets one of the two
    return exchange.response


_current = threading.local()


class _Stopped(Exception):
    """Raised on the worker thread when the caller gave up on its request."""


class _Exchange:
    """One request in flight: its outcome, its connection, and whether a byte of it has left."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.done = threading.Event()
        self.response: requests.Response | None = None
        self.error: BaseException | None = None
        self.stopped = False
        #: Our connection classes handle this request, so `sent` below can be trusted.
        self.watched = False
        #: The first byte of the request was about to be written to the socket.
        self.sent = False
        self._connection: HTTPConnection | None = None

    @property
    def may_have_reached_server(self) -> bool:
        return self.sent or not self.watched

    def run(self, session: requests.Session, method: str, url: str, **kwargs: Any) -> None:
        _current.exchange = self
        try:
            response = session.request(method, url, stream=True, **kwargs)
            try:
                response._content = self._read_body(response)
                response._content_consumed = True  # so that close() keeps the connection for reuse
            finally:
                response.close()
            self.response = response
        except BaseException as exc:  # handed to the caller, who decides what it means
            self.error = exc
        finally:
            _current.exchange = None
            self.done.set()

    def _read_body(self, response: requests.Response) -> bytes:
        """The decoded body in one buffer, never more than `max_body` bytes of it decoded.

        gzip and deflate are decoded here rather than by urllib3, so that the limit holds for
        every urllib3 version (2.8 can repeat output when a gzip member ends on a read boundary).
        """
        raw = response.raw
        encoding = response.headers.get("Content-Encoding", "").strip().lower() or "identity"
        declared = response.headers.get("Content-Length", "")
        length = int(declared) if declared.isascii() and declared.isdigit() else None
        if encoding == "identity":
            if length is not None:
                if length > self.max_body:
                    raise TooLarge(length, self.max_body)
                return raw.read(decode_content=False) or b""  # one allocation for the whole body
            decode = _Inflater(None, self.max_body)
        elif encoding in _WBITS:
            decode = _Inflater(encoding, self.max_body)
        else:
            raise NotAsked(encoding)
        chunks = [
            decode(chunk)
            for chunk in iter(lambda: raw.read(_READ_CHUNK, decode_content=False), b"")
        ]
        decode.finish()
        return b"".join(chunks)

    # Called by our connection classes on the worker thread.

    def attach(self, connection: HTTPConnection) -> None:
        self.watched = True
        self._connection = connection
        if self.stopped:
            connection.close()
            raise _Stopped

    def sending(self, connection: HTTPConnection) -> None:
        self.attach(connection)
        self.sent = True

    # Called by the caller's thread.

    def stop(self) -> None:
        """Give up on the request: unblock the worker by shutting its socket down."""
        self.stopped = True
        sock = getattr(self._connection, "sock", None)
        if sock is not None:
            # Already closed, or not a plain socket (TLS inside a TLS proxy): then it is abandoned.
            with contextlib.suppress(OSError, TypeError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class TooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size, limit)
        self.size = size
        self.limit = limit


class NotAsked(Exception):
    """The answer came in a content encoding we did not offer."""


#: zlib's window bits per content encoding: 31 reads a gzip member, 47 a zlib or gzip stream.
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 47}


class _Inflater:
    """Decodes a body as it arrives and refuses to produce more than `limit` bytes in all: gzip
    (every member; what follows a complete member and does not decode is ignored, as gzip and
    urllib3 do), deflate (zlib-wrapped or raw), or identity (only counted)."""

    def __init__(self, encoding: str | None, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self._obj = zlib.decompressobj(_WBITS[encoding]) if encoding else None
        self._members = 0  # complete members (streams) decoded
        self._ended = False  # nothing more is decoded
        self._first = b""  # deflate's input until it yields output, should it be raw deflate
        self._fed = False

    def __call__(self, data: bytes) -> bytes:
        if self._obj is None:
            return self._count(data)
        self._fed = self._fed or bool(data)
        out: list[bytes] = []
        if self.encoding == "deflate" and not self.size:
            self._first += data
        while data and not self._ended:
            try:
                # One byte more than the room left: getting it means the limit is passed.
                part = self._obj.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                if self._members:
                    self._ended = True  # trailing bytes after a complete member
                    break
                if self.encoding != "deflate" or self.size:
                    raise
                self.encoding = "raw deflate"  # what some servers send as "deflate"
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                data, self._first = self._first, b""
                continue
            out.append(self._count(part))
            if not self._obj.eof:
                data = self._obj.unconsumed_tail  # empty, unless the limit was passed
                continue
            self._members += 1
            data = self._obj.unused_data
            if self.encoding in ("gzip", "x-gzip"):
                self._obj = zlib.decompressobj(_WBITS[self.encoding])  # the next member
            else:
                self._ended = True
        return b"".join(out)

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.size, self.limit)
        return data

    def finish(self) -> None:
        if self._fed and not self._members:  # an empty body is just empty
            raise zlib.error(f"the {self.encoding} stream is cut short")


def _exchange() -> _Exchange | None:
    return getattr(_current, "exchange", None)


class WatchedHTTPConnection(HTTPConnection):
    """Lets the request's exchange find the socket (to stop it) and know when sending begins."""

    def connect(self) -> None:
        exchange = _exchange()
        if exchange is not None:
            exchange.attach(self)
        super().connect()
        if exchange is not None:
            exchange.attach(self)  # stopped while connecting: close before anything is sent

    def send(self, data: Any) -> None:
        exchange = _exchange()
        if exchange is not None:
            if self.sock is None:
                self.connect()
            exchange.sending(self)
        super().send(data)


class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


def _watch(manager: Any) -> Any:
    # Only the plain pools are swapped; a SOCKS proxy's pools are left as they are (its requests
    # are then stopped by abandoning them, and counted as possibly sent).
    if manager.pool_classes_by_scheme is urllib3_poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
    return manager


class WatchedAdapter(HTTPAdapter):
    """Mount this on a session whose requests go through `send`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watch(super().proxy_manager_for(proxy, **proxy_kwargs))
