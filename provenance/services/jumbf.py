"""Take the embedded C2PA manifest store (JUMBF) out of a signed file, as `application/c2pa` bytes.

c2pa's Builder.sign returns these bytes, but the manifests layer keeps only the signed file, so
the repository cuts them out of the container: PNG `caBX` chunk, JPEG APP11 segments, WebP `C2PA`
chunk, or the AVIF/BMFF `uuid` box that c2pa writes. Callers check the result by validating it
against the file with c2pa, so a wrong cut is caught rather than stored.
"""

from __future__ import annotations

import struct

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


class StoreNotFoundError(Exception):
    """The container holds no embedded C2PA manifest store this module can find."""


def _png(data: bytes) -> bytes | None:
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"caBX":
            return data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return None


def _jpeg(data: bytes) -> bytes | None:
    # APP11 segments carry JUMBF in packets: "JP", box instance, sequence number, then the box.
    # Every packet after the first repeats the box header (LBox/TBox, plus XLBox when LBox is 1).
    parts: dict[int, list[tuple[int, bytes]]] = {}
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, or start of scan: no more metadata
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xEB and segment[:2] == b"JP" and len(segment) >= 16:
            instance, sequence = struct.unpack(">HI", segment[2:8])
            parts.setdefault(instance, []).append((sequence, segment[8:]))
        pos += 2 + length
    for packets in parts.values():
        packets.sort()
        first = packets[0][1]
        if first[4:8] != b"jumb":
            continue
        header = 16 if struct.unpack(">I", first[:4])[0] == 1 else 8
        return first + b"".join(body[header:] for _, body in packets[1:])
    return None


def _webp(data: bytes) -> bytes | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if kind == b"C2PA":
            return data[pos + 8 : pos + 8 + length]
        pos += 8 + length + (length & 1)
    return None


def _bmff(data: bytes) -> bytes | None:
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            return None
        if kind == b"uuid" and data[pos + header : pos + header + 16] == _C2PA_BMFF_UUID:
            body = data[pos + header + 16 : pos + size]
            # full-box version/flags, a NUL-terminated purpose, then (for "manifest") an offset.
            end = body.index(b"\0", 4)
            if body[4:end] == b"manifest":
                return body[end + 1 + 8 :]
        pos += size
    return None


_BY_MIME = {"image/png": _png, "image/jpeg": _jpeg, "image/webp": _webp, "image/avif": _bmff}


def extract_store(*, data: bytes, mime_type: str) -> bytes:
    try:
        extract = _BY_MIME[mime_type]
    except KeyError:
        raise StoreNotFoundError(f"{mime_type}: extracting a manifest store is not supported") from None
    try:
        store = extract(data)
    except (struct.error, ValueError, IndexError) as exc:
        raise StoreNotFoundError(f"{mime_type} ({len(data)} bytes): malformed container ({exc})") from exc
    if not store or store[4:8] != b"jumb":
        raise StoreNotFoundError(f"{mime_type} ({len(data)} bytes): no embedded C2PA manifest store")
    return store
