"""One HTTP POST to an address already checked by :mod:`dam.webhooks.targets`.

The connection goes to that address, not to whatever the host name resolves to a moment later; the
Host header and (for https) SNI and certificate checks still use the name. Redirects are not
followed: a 3xx is a failed attempt, since following it would reach a URL nobody checked.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from dam.webhooks.targets import IPAddress, Target


@dataclass(frozen=True)
class Response:
    status: int
    elapsed_ms: int
    body_excerpt: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    pinned_ip: str

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_ip, self.port), self.timeout, self.source_address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection, _PinnedHTTPConnection):
    # HTTPSConnection.connect calls super().connect(), which this order makes the pinned one, then
    # wraps the socket in TLS for self.host.
    pass


def post(
    *, target: Target, address: IPAddress, body: bytes, headers: dict[str, str], timeout: float,
    excerpt_chars: int,
) -> Response:
    """POST ``body``; return the status, time to the end of the response and the start of its body.

    Network failures raise ``OSError`` (``TimeoutError``, ``ConnectionRefusedError``, ``ssl.SSLError``)
    or ``http.client.HTTPException``.
    """
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(target.host, target.port, timeout=timeout)
    connection.pinned_ip = str(address)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        # Read a little more than is kept: receivers answer with short bodies, and an endless one
        # must not hold the worker.
        raw = response.read(max(excerpt_chars, 0) * 4 + 1)
        elapsed_ms = round((time.monotonic() - started) * 1000)
    finally:
        connection.close()
    return Response(
        status=response.status, elapsed_ms=elapsed_ms, body_excerpt=raw.decode("utf-8", "replace")[:excerpt_chars]
    )
