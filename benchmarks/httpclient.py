"""A minimal HTTP/1.1 client for the load generator: one keep-alive connection, one request at a time.

Raw asyncio protocol code, no HTTP library: the load generator must stay far below one core at
the request rates one uvicorn worker reaches, and a general-purpose client (httpx saturated a
core at ~460 requests/s here) measures itself instead of the server. It speaks only what the
benchmark needs: requests built once as bytes, responses framed by ``Content-Length``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

__all__ = ["HttpConnection", "ProtocolError", "Response", "ResponseParser", "build_request"]

MAX_HEAD_BYTES = 64 * 1024
"""A response head longer than this is refused (no server of the benchmark sends one)."""


class ProtocolError(Exception):
    """The server sent something this client does not read (chunked bodies, garbage, no length)."""


@dataclass(frozen=True, slots=True)
class Response:
    """One complete response: status code, body, and whether the server closes the connection after it."""

    status: int
    body: bytes
    close: bool

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def build_request(method: str, path: str, host: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    """The bytes of one request; built once per distinct request, sent as they are."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b"")


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, body length and connection-close flag of a response head (without its blank line)."""
    status_line, *header_lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(parts[1])
    length: int | None = None
    close = parts[0] == b"HTTP/1.0"
    for line in header_lines:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ProtocolError(f"transfer-encoding {value.strip().decode('latin-1')} is not supported")
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if length is None:
        if status in {204, 304} or status < 200:
            return status, 0, close
        raise ProtocolError(f"a {status} response without Content-Length")
    return status, length, close


class ResponseParser:
    """Turns the bytes of a connection, in pieces of any size, into complete responses."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[int, int, bool] | None = None

    def feed(self, data: bytes) -> list[Response]:
        """The responses ``data`` completes (usually none or one); raises :class:`ProtocolError`."""
        self._buffer += data
        responses: list[Response] = []
        while True:
            if self._head is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_HEAD_BYTES:
                        raise ProtocolError(f"no end of the response head within {MAX_HEAD_BYTES} bytes")
                    return responses
                self._head = _parse_head(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            status, length, close = self._head
            if len(self._buffer) < length:
                return responses
            responses.append(Response(status, bytes(self._buffer[:length]), close))
            del self._buffer[:length]
            self._head = None


class _Protocol(asyncio.Protocol):
    """Hands each parsed response to the request waiting for it."""

    def __init__(self) -> None:
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self.parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        for response in responses:
            if self.waiter is None or self.waiter.done():
                self._fail(ProtocolError(f"a {response.status} response nobody asked for"))
                return
            self.waiter.set_result(response)
            self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("the server closed the connection"))
        self.waiter = None

    def _fail(self, exc: Exception) -> None:
        """A connection that sent something unreadable is dropped; the waiting request fails."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.waiter = None
        if self.transport is not None:
            self.transport.close()


class HttpConnection:
    """One keep-alive connection to ``host:port``, opened on first use and again after a close or error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.opened = 0
        """Connections opened so far (one, unless the server closed some or errors dropped them)."""
        self._protocol: _Protocol | None = None

    async def request(self, raw: bytes) -> Response:
        """Send ``raw`` (from :func:`build_request`) and wait for its response.

        Raises :class:`ProtocolError` or :class:`OSError`; the connection is then dropped, and the
        next request opens a new one.
        """
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        assert protocol.transport is not None
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        protocol.waiter = waiter
        protocol.transport.write(raw)
        try:
            response = await waiter
        except BaseException:
            self.close()
            raise
        if response.close:
            self.close()
        return response

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
        self._protocol = protocol
        self.opened += 1
        return protocol

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
