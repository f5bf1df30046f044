"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.

A URL is checked when it is subscribed and again at every attempt, and the request goes to the
address that was checked (see :mod:`dam.webhooks.transport`), so a name that re-resolves to an
internal address after the check (DNS rebinding) reaches nothing inside.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from dam.conf import dam_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidWebhookTarget(ValueError):
    def __init__(self, url: str, reason: str):
        super().__init__(f"webhook URL {url!r}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[IPAddress, ...]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not receive webhooks, or None if it may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        refusal = address_refusal(embedded, allow_private=allow_private)
        return f"{refusal} (inside {address})" if refusal else None
    # Never deliverable, whatever the setting says.
    if address.is_unspecified or address.is_multicast:
        return f"{address} is {'unspecified' if address.is_unspecified else 'multicast'}"
    if address.is_global:
        return None
    if allow_private and (address.is_private or address.is_loopback or address.is_link_local):
        return None
    kind = (
        "loopback" if address.is_loopback
        else "link-local" if address.is_link_local
        else "reserved" if address.is_reserved
        else "private"
    )
    return f"{address} is a {kind} address (set DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS to allow private targets)"


def _resolve(url: str, host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidWebhookTarget(url, f"host {host!r} does not resolve ({exc})") from exc
    # Scope ids (fe80::1%eth0) are dropped: the address alone decides whether it is allowed.
    found = {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos}
    if not found:
        raise InvalidWebhookTarget(url, f"host {host!r} has no address")
    return tuple(sorted(found, key=lambda a: (a.version, int(a))))


def check_target(*, url: str) -> Target:
    """Parse and resolve ``url``; raise :class:`InvalidWebhookTarget` unless every address is allowed.

    All addresses must pass, not just one: a name answering with one public and one internal address
    could otherwise steer a later request inside.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"}:
        raise InvalidWebhookTarget(url, f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookTarget(url, "credentials in the URL are not allowed; use the signing secret")
    if parts.fragment:
        raise InvalidWebhookTarget(url, "a fragment is never sent; remove it")
    host = parts.hostname
    if not host:
        raise InvalidWebhookTarget(url, "no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidWebhookTarget(url, str(exc)) from exc
    allow_private = dam_settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    addresses = _resolve(url, host, port)
    for address in addresses:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise InvalidWebhookTarget(url, f"host {host!r}: {refusal}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)
