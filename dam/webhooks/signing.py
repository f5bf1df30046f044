"""Standard Webhooks signatures (https://www.standardwebhooks.com/), written here from the spec.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the base64 part of a
``whsec_`` secret; the header holds space-separated ``v1,<base64 HMAC-SHA256>`` entries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 5 * 60


class InvalidSecret(ValueError):
    pass


class InvalidSignature(ValueError):
    pass


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, as in the reference libraries)."""
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("webhook secret: expected whsec_ followed by base64") from exc
    if len(key) < 16:
        raise InvalidSecret(f"webhook secret: {len(key)} bytes is too short (at least 16)")
    return key


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = b"%s.%d.%s" % (message_id.encode("utf-8"), timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(*, secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
    }


def verify(
    *, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`InvalidSignature` unless ``headers`` carry a valid, fresh signature of ``body``.

    ``headers`` are looked up case-insensitively. A receiver should also remember ``webhook-id`` values
    it has processed: a retry repeats the id with a new timestamp and signature.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        message_id, raw_timestamp, header = (
            lowered["webhook-id"], lowered["webhook-timestamp"], lowered["webhook-signature"]
        )
    except KeyError as exc:
        raise InvalidSignature(f"missing header {exc.args[0]}") from exc
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise InvalidSignature(f"webhook-timestamp {raw_timestamp!r} is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(f"webhook-timestamp {timestamp} is more than {tolerance} s from now")
    expected = sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    for candidate in header.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise InvalidSignature("no v1 signature in webhook-signature matches the body")
