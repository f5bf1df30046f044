"""EXIF, IPTC and XMP turned into JSON-safe, size-capped dictionaries.

Metadata never makes a file fail: a value that is too long is truncated, tags beyond the overall cap
are dropped, a block Pillow cannot parse is skipped, and each of these leaves a warning behind.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from PIL import ExifTags, Image, IptcImagePlugin, TiffImagePlugin

from dam.ingest.limits import IngestLimits

ORIENTATION_TAG = 0x0112
_SUB_IFDS = {ExifTags.IFD.Exif: "Exif", ExifTags.IFD.GPSInfo: "GPSInfo", ExifTags.IFD.Interop: "Interop"}
_MAX_LIST_ITEMS = 256

# The IPTC datasets librarians actually fill in; others keep their "record:dataset" key.
_IPTC_NAMES = {
    (2, 5): "ObjectName", (2, 25): "Keywords", (2, 40): "SpecialInstructions", (2, 55): "DateCreated",
    (2, 80): "Byline", (2, 85): "BylineTitle", (2, 90): "City", (2, 95): "ProvinceState",
    (2, 101): "Country", (2, 105): "Headline", (2, 110): "Credit", (2, 115): "Source",
    (2, 116): "CopyrightNotice", (2, 118): "Contact", (2, 120): "Caption", (2, 122): "CaptionWriter",
}


class _Budget:
    """Shared character budget for one file's EXIF+IPTC JSON."""

    def __init__(self, *, limits: IngestLimits, warnings: list[str]) -> None:
        self.limits = limits
        self.warnings = warnings
        self.left = limits.max_metadata_bytes
        self.dropped = 0

    def admit(self, value: Any) -> bool:
        cost = len(json.dumps(value, ensure_ascii=False))
        if cost > self.left:
            self.dropped += 1
            return False
        self.left -= cost
        return True


def extract_metadata(*, im: Image.Image, limits: IngestLimits, warnings: list[str]) -> tuple[dict, int | None]:
    """Return ({"exif", "iptc", "xmp"}, a valid EXIF orientation 1-8 or None)."""
    budget = _Budget(limits=limits, warnings=warnings)
    exif, orientation = _exif(im=im, budget=budget)
    iptc = _iptc(im=im, budget=budget)
    if budget.dropped:
        warnings.append(f"metadata exceeds {limits.max_metadata_bytes} bytes as JSON; {budget.dropped} tags dropped")
    return {"exif": exif, "iptc": iptc, "xmp": _xmp(im=im, limits=limits, warnings=warnings)}, orientation


def _exif(*, im: Image.Image, budget: _Budget) -> tuple[dict, int | None]:
    try:
        exif = im.getexif()
        raw_orientation = exif.get(ORIENTATION_TAG)
        out = _ifd_to_json(dict(exif), names=ExifTags.TAGS, budget=budget, where="EXIF")
        for tag, label in _SUB_IFDS.items():
            if tag in exif:
                names = ExifTags.GPSTAGS if tag == ExifTags.IFD.GPSInfo else ExifTags.TAGS
                out[label] = _ifd_to_json(exif.get_ifd(tag), names=names, budget=budget, where=f"EXIF {label}")
    # Pillow raises a zoo of exception types on hostile EXIF; none of them should cost the image.
    except Exception as exc:  # noqa: BLE001
        budget.warnings.append(f"EXIF could not be read ({type(exc).__name__}: {exc}); ignored")
        return {}, None
    return out, _orientation(raw_orientation, budget.warnings)


def _orientation(value: Any, warnings: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    # Rejecting a photo for a bad orientation tag would lose it; showing it as stored loses nothing.
    warnings.append(f"EXIF orientation {value!r} is not valid (1-8); ignored, the image is shown as stored")
    return None


def _ifd_to_json(ifd: dict, *, names: dict, budget: _Budget, where: str) -> dict:
    out: dict[str, Any] = {}
    for tag, value in ifd.items():
        if tag in _SUB_IFDS:
            continue  # pointers to sub-IFDs, which are expanded by the caller
        name = names.get(tag, f"0x{tag:04x}")
        converted = to_json(value, limits=budget.limits, warnings=budget.warnings, label=f"{where} {name}")
        if budget.admit(converted):
            out[name] = converted
    return out


def to_json(value: Any, *, limits: IngestLimits, warnings: list[str], label: str) -> Any:
    """A JSON-safe, length-capped copy of one metadata value."""
    cap = limits.max_metadata_value_chars
    if isinstance(value, TiffImagePlugin.IFDRational):
        return None if value.denominator == 0 else _finite(float(value))
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, bytes):
        return _bytes_to_json(value, cap=cap, warnings=warnings, label=label)
    if isinstance(value, str):
        return _cap_text(value.rstrip("\x00"), cap=cap, warnings=warnings, label=label)
    if isinstance(value, list | tuple):
        if len(value) > _MAX_LIST_ITEMS:
            warnings.append(f"{label}: {len(value)} values truncated to {_MAX_LIST_ITEMS}")
        return [to_json(v, limits=limits, warnings=warnings, label=label) for v in value[:_MAX_LIST_ITEMS]]
    if isinstance(value, dict):
        return {str(k): to_json(v, limits=limits, warnings=warnings, label=label) for k, v in value.items()}
    return _cap_text(str(value), cap=cap, warnings=warnings, label=label)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _bytes_to_json(value: bytes, *, cap: int, warnings: list[str], label: str) -> str:
    stripped = value.rstrip(b"\x00")
    if stripped.isascii() and all(c >= 0x20 or c in (9, 10, 13) for c in stripped):
        return _cap_text(stripped.decode("ascii"), cap=cap, warnings=warnings, label=label)
    keep = max(0, (cap - 7) // 4 * 3)  # base64 grows 4/3; "base64:" costs 7
    if len(value) > keep:
        warnings.append(f"{label}: {len(value)} bytes of binary data truncated to {keep}")
    return "base64:" + base64.b64encode(value[:keep]).decode("ascii")


def _cap_text(text: str, *, cap: int, warnings: list[str], label: str) -> str:
    if len(text) <= cap:
        return text
    warnings.append(f"{label}: {len(text)} characters truncated to {cap}")
    return text[:cap]


def _iptc(*, im: Image.Image, budget: _Budget) -> dict:
    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}
    except Exception as exc:  # noqa: BLE001 - same reasoning as for EXIF
        budget.warnings.append(f"IPTC could not be read ({type(exc).__name__}: {exc}); ignored")
        return {}
    out: dict[str, Any] = {}
    for key, raw in info.items():
        name = _IPTC_NAMES.get(key, f"{key[0]}:{key[1]}")
        values = raw if isinstance(raw, list) else [raw]
        texts = [_cap_text(_decode_iptc(v), cap=budget.limits.max_metadata_value_chars,
                           warnings=budget.warnings, label=f"IPTC {name}") for v in values[:_MAX_LIST_ITEMS]]
        converted = texts if isinstance(raw, list) else texts[0]
        if budget.admit(converted):
            out[name] = converted
    return out


def _decode_iptc(value: bytes) -> str:
    # IPTC declares its charset in record 1, which writers often omit; UTF-8 then Latin-1 covers practice.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _xmp(*, im: Image.Image, limits: IngestLimits, warnings: list[str]) -> str | None:
    raw = im.info.get("xmp")
    if not raw:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    raw = raw.rstrip(b"\x00 \r\n")
    if len(raw) > limits.max_xmp_bytes:
        # Half an XML packet is useless to every reader, so it is dropped whole.
        warnings.append(f"XMP packet of {len(raw)} bytes exceeds {limits.max_xmp_bytes}; not kept")
        return None
    return raw.decode("utf-8", errors="replace")
