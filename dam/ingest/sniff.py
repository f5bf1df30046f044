"""Byte-level checks: what a file is, where its image stream ends, and what hides after it.

Pillow decides which raster format a file is (from its own magic-byte detection, limited to our
allow-list). This module adds what Pillow does not check:

* the file's structure is walked to the end of the image stream (JPEG EOI, PNG IEND, GIF trailer,
  RIFF size, ISO-BMFF boxes); a stream that stops early is "truncated";
* polyglot rule: bytes after that end are tolerated only up to ``max_trailing_bytes`` and only when
  they carry no signature of another format; and no raster file may also open as a ZIP archive
  (ZIP readers look for their directory at the *end*, so a ZIP can ride on any format, TIFF included).
  An SVG is accepted only when Pillow recognises no raster format in it, and it is stored
  re-serialised from its parsed tree, so no foreign bytes survive in it.

What is out of reach of byte checks (script hidden inside a GIF comment, say) is handled where files
are served: the sniffed Content-Type with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import io
import zipfile

# Pillow format name -> (MIME type, extension we store under). MPO is Pillow's name for a JPEG that
# carries extra images (depth maps, previews) after its first EOI, as many phone cameras write.
RASTER_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "AVIF": ("image/avif", "avif"),
    "GIF": ("image/gif", "gif"),
    "TIFF": ("image/tiff", "tif"),
}
SVG_TYPE = ("image/svg+xml", "svg")

# Signatures of things people rename to .jpg, or append to images. Checked at the start of
# unidentified files (to name what they are) and inside trailing data (to call out a polyglot).
_FOREIGN = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"PK\x03\x04", "a ZIP archive (archives are expanded only when imported as .zip)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "gzip data (compressed SVG is not accepted; upload the plain .svg)"),
    (b"%PDF", "a PDF document"),
    (b"8BPS", "a Photoshop document"),
    (b"BM", "a BMP image, which is not an allowed type"),
    (b"#!", "a script"),
    (b"<?php", "a PHP script"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<script", "a script"),
)
# Only the longer, unambiguous signatures are searched for anywhere inside trailing bytes.
_TRAILING_NEEDLES = (b"PK\x03\x04", b"PK\x05\x06", b"\x7fELF", b"%PDF", b"<html", b"<script", b"<?php",
                     b"<svg", b"<!doctype", b"<iframe", b"javascript:", b"Rar!", b"7z\xbc\xaf")


class StreamTruncated(Exception):
    """The image stream stops before its end marker."""


class StreamCorrupt(Exception):
    """The bytes do not follow the format's structure."""


def describe_foreign(data: bytes) -> str | None:
    """Name what an unidentified file looks like, for the rejection message."""
    head = data[:64].lstrip(b" \t\r\n\xef\xbb\xbf").lower()
    for magic, label in _FOREIGN:
        textual = magic[:1] in (b"<", b"#", b"%")
        if data.startswith(magic) or (textual and head.startswith(magic.lower())):
            return label
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "a HEIC image, which is not an allowed type"
    return None


def stream_end(*, fmt: str, data: bytes, mpo_entries: list[tuple[int, int]] | None = None) -> int | None:
    """Offset just past the image stream, or None for formats without a defined end (TIFF).

    ``mpo_entries`` are the (DataOffset, Size) pairs of an MPO's index (Pillow's ``mpinfo[0xB002]``).
    """
    if fmt == "JPEG":
        return _jpeg_end(data, 0)
    if fmt == "MPO":
        return _mpo_end(data, mpo_entries or [])
    if fmt == "PNG":
        return _png_end(data)
    if fmt == "GIF":
        return _gif_end(data)
    if fmt == "WEBP":
        return _riff_end(data)
    if fmt == "AVIF":
        return _bmff_end(data)
    return None


def polyglot_reason(*, data: bytes, end: int | None, max_trailing: int, label: str) -> str | None:
    """Why a raster file must be refused as a polyglot, or None when it is clean."""
    if end is not None and end < len(data):
        trailing = data[end:]
        lowered = trailing.lower()
        for needle in _TRAILING_NEEDLES:
            if needle.lower() in lowered:
                what = describe_foreign(trailing[lowered.find(needle.lower()):]) or repr(needle.decode("latin-1"))
                return f"{len(trailing)} bytes after the end of the {label} stream contain {what} (polyglot file)"
        if len(trailing) > max_trailing:
            return (f"{len(trailing)} bytes follow the end of the {label} stream "
                    f"(at most {max_trailing} are tolerated; extra data is refused as a possible polyglot)")
    if _opens_as_zip(data):
        return f"the {label} file also opens as a ZIP archive (polyglot file)"
    return None


def _opens_as_zip(data: bytes) -> bool:
    if b"PK\x05\x06" not in data[-(65536 + 22):]:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)):
            return True
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _jpeg_end(data: bytes, start: int) -> int:
    n = len(data)
    if data[start:start + 2] != b"\xff\xd8":
        raise StreamCorrupt(f"no JPEG start-of-image marker at byte {start}")
    i = start + 2
    while True:
        if i >= n:
            raise StreamTruncated("the JPEG stream ends without an end-of-image marker")
        if data[i] != 0xFF:
            raise StreamCorrupt(f"expected a JPEG marker at byte {i}")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            raise StreamTruncated("the JPEG stream ends inside a marker")
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            raise StreamTruncated("the JPEG stream ends inside a segment header")
        seglen = int.from_bytes(data[i:i + 2], "big")
        if seglen < 2:
            raise StreamCorrupt(f"JPEG segment at byte {i} has an impossible length {seglen}")
        i += seglen
        if i > n:
            raise StreamTruncated("the JPEG stream ends inside a segment")
        if marker == 0xDA:
            i = _skip_entropy_data(data, i)


def _mpo_end(data: bytes, entries: list[tuple[int, int]]) -> int:
    # The extra images sit where the MP index says, offsets counted from the MPF header in APP2.
    end = _jpeg_end(data, 0)
    base = _mpf_base(data)
    for index, (offset, size) in enumerate(entries[1:], start=1):
        start = base + offset
        if data[start:start + 2] != b"\xff\xd8":
            raise StreamCorrupt(f"MPO image {index} does not start where the MP index says")
        if start + size > len(data):
            raise StreamTruncated(f"MPO image {index} is cut short")
        end = max(end, start + size, _jpeg_end(data, start))
    return end


def _mpf_base(data: bytes) -> int:
    i = 2
    while i + 8 <= len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        if data[i + 1] == 0xE2 and data[i + 4:i + 8] == b"MPF\x00":
            return i + 8
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    raise StreamCorrupt("the MPO file has no MPF index segment")


def _skip_entropy_data(data: bytes, i: int) -> int:
    # Scan data sits between markers; 0xFF inside it is escaped as FF00, restart markers are FFD0-FFD7.
    n = len(data)
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= n:
            raise StreamTruncated("the JPEG stream ends inside compressed image data")
        nxt = data[j + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
            i = j + 2
        elif nxt == 0xFF:
            i = j + 1
        else:
            return j


def _png_end(data: bytes) -> int:
    n = len(data)
    i = 8
    while True:
        if i + 8 > n:
            raise StreamTruncated("the PNG stream ends before its IEND chunk")
        length = int.from_bytes(data[i:i + 4], "big")
        ctype = data[i + 4:i + 8]
        if length > 0x7FFFFFFF or not ctype.isalpha():
            raise StreamCorrupt(f"PNG chunk at byte {i} is malformed")
        i += 12 + length
        if i > n:
            raise StreamTruncated(f"the PNG stream ends inside its {ctype.decode('ascii')} chunk")
        if ctype == b"IEND":
            return i


def _gif_end(data: bytes) -> int:
    n = len(data)
    if n < 13:
        raise StreamTruncated("the GIF header is incomplete")
    i = 13 + _colour_table_size(data[10])
    while True:
        if i >= n:
            # Many encoders omit the trailer byte; ending cleanly between blocks is accepted.
            if i == n:
                return n
            raise StreamTruncated("the GIF stream ends inside its colour table")
        block = data[i]
        if block == 0x3B:
            return i + 1
        if block == 0x21:
            i = _skip_sub_blocks(data, i + 2)
        elif block == 0x2C:
            if i + 10 > n:
                raise StreamTruncated("the GIF stream ends inside an image descriptor")
            i += 10 + _colour_table_size(data[i + 9]) + 1  # +1: LZW minimum code size
            i = _skip_sub_blocks(data, i)
        else:
            raise StreamCorrupt(f"unknown GIF block 0x{block:02x} at byte {i}")


def _colour_table_size(packed: int) -> int:
    return 3 * (2 ** ((packed & 7) + 1)) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, i: int) -> int:
    n = len(data)
    while True:
        if i >= n:
            raise StreamTruncated("the GIF stream ends inside a data block")
        size = data[i]
        i += 1 + size
        if size == 0:
            return i


def _riff_end(data: bytes) -> int:
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size + (size & 1)
    if end > len(data):
        if 8 + size <= len(data):  # a missing pad byte at the very end is harmless
            return len(data)
        raise StreamTruncated("the WebP stream is shorter than its RIFF header declares")
    return end


def _bmff_end(data: bytes) -> int:
    n = len(data)
    i = 0
    while i < n:
        if i + 8 > n:
            return i
        size = int.from_bytes(data[i:i + 4], "big")
        btype = data[i + 4:i + 8]
        if not all(0x20 <= c < 0x7F for c in btype):
            return i  # not a box: the stream ended here and the rest is trailing data
        if size == 1:
            if i + 16 > n:
                raise StreamTruncated("the AVIF stream ends inside a box header")
            size = int.from_bytes(data[i + 8:i + 16], "big")
        elif size == 0:
            return n
        if size < 8:
            raise StreamCorrupt(f"AVIF box at byte {i} has an impossible size {size}")
        if i + size > n:
            raise StreamTruncated(f"the AVIF stream ends inside its {btype.decode('ascii')!r} box")
        i += size
    return n
