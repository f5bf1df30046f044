"""inspect_file: from untrusted bytes to a checked, described file ready to be stored.

Order matters: size cap -> MIME from the bytes -> declared pixels (header only) -> structure and
polyglot checks -> one full decode of every frame -> metadata and orientation -> hashes and palette.
Nothing is decoded before the limits that bound decoding have been checked.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from dam.ingest.errors import RejectedFile
from dam.ingest.hashing import perceptual_hash, sha256_hex
from dam.ingest.limits import IngestLimits
from dam.ingest.metadata import extract_metadata
from dam.ingest.palette import dominant_palette
from dam.ingest.sniff import (
    RASTER_FORMATS,
    SVG_TYPE,
    StreamCorrupt,
    StreamTruncated,
    describe_foreign,
    polyglot_reason,
    stream_end,
)
from dam.ingest.svg import SvgRenderError, looks_like_svg, rasterise_svg, sanitise_svg

# MPO has no opener of its own: Pillow's JPEG opener returns it when a JPEG carries extra images.
_PIL_FORMATS = [fmt for fmt in RASTER_FORMATS if fmt != "MPO"]
THUMB_SIDE = 64  # phash looks at 32x32 and the palette at a few thousand pixels: 64 px is plenty
_READ_CHUNK = 1024 * 1024
_EXT_ALIASES = {"jpg": {"jpg", "jpeg", "jpe", "jfif"}, "tif": {"tif", "tiff"}}
# Allowed magic numbers, to tell "a PNG too broken for Pillow to open" from "not an image at all".
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
# EXIF orientation -> the transpose that shows the image upright.
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class InspectedFile:
    name: str
    mime: str
    ext: str
    data: bytes  # the bytes to store (for SVG: the sanitised document)
    sha256: str  # of ``data``
    size: int
    width: int  # upright, after EXIF orientation
    height: int
    mode: str
    has_icc: bool
    frames: int
    metadata: dict = field(repr=False)  # {"exif", "iptc", "xmp", "warnings"}
    phash: str
    palette: list[dict]
    # The decoded first frame (rasters only), so renditions made in the same process need not decode
    # the file again; None for SVG.
    decoded: Image.Image | None = field(default=None, repr=False, compare=False)


def inspect_file(*, name: str, fileobj: BinaryIO, limits: IngestLimits,
                 timings: dict[str, float] | None = None) -> InspectedFile:
    """Check and describe one uploaded file, or raise RejectedFile naming it and the reason.

    ``timings``, when given, receives seconds per stage (read, open, structure, decode, metadata,
    thumbnail, phash, palette, sha256) for monitoring.
    """
    clock = _Clock(timings)
    data = _read_capped(name=name, fileobj=fileobj, limits=limits)
    clock.lap("read")
    if not data:
        raise RejectedFile(name=name, code="empty", reason="the file is empty (0 bytes)")
    warnings: list[str] = []
    try:
        im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except Image.DecompressionBombError as exc:
        raise RejectedFile(name=name, code="too_many_pixels", reason=f"declared image size is too large ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if looks_like_svg(data):
            return _inspect_svg(name=name, data=data, limits=limits, warnings=warnings, clock=clock)
        raise _unidentified(name=name, data=data) from exc
    clock.lap("open")
    with im:
        return _inspect_raster(name=name, data=data, im=im, limits=limits, warnings=warnings, clock=clock)


def _inspect_raster(*, name: str, data: bytes, im: Image.ImageFile.ImageFile, limits: IngestLimits,
                    warnings: list[str], clock: _Clock) -> InspectedFile:
    fmt = im.format or ""
    mime, ext = RASTER_FORMATS[fmt]
    _check_pixels(name=name, size=im.size, limits=limits, frame=0)
    try:
        end = stream_end(fmt=fmt, data=data, mpo_entries=_mpo_entries(im))
    except StreamTruncated as exc:
        raise RejectedFile(name=name, code="truncated", reason=f"{exc}; the file is incomplete") from exc
    except StreamCorrupt as exc:
        raise RejectedFile(name=name, code="corrupt", reason=str(exc)) from exc
    label = "JPEG" if fmt == "MPO" else fmt
    reason = polyglot_reason(data=data, end=end, max_trailing=limits.max_trailing_bytes, label=label)
    if reason:
        raise RejectedFile(name=name, code="polyglot", reason=reason)
    clock.lap("structure")
    # Asked before decoding: for GIF the question seeks, which would discard a decoded frame 0.
    animated = bool(getattr(im, "is_animated", False))
    _decode(name=name, im=im, frame=0)
    clock.lap("decode")
    first = im.copy() if animated else im
    mode, has_icc = first.mode, bool(im.info.get("icc_profile"))
    metadata, orientation = extract_metadata(im=im, limits=limits, warnings=warnings)
    clock.lap("metadata")
    frames = _decode_remaining_frames(name=name, im=im, limits=limits) if animated else 1
    clock.lap("decode")
    thumb = _thumbnail(first, orientation=orientation)
    clock.lap("thumbnail")
    width, height = first.size if orientation is None or orientation < 5 else first.size[::-1]
    _warn_on_extension(name=name, ext=ext, warnings=warnings)
    return _describe(name=name, data=data, mime=mime, ext=ext, size=(width, height), mode=mode, has_icc=has_icc,
                     frames=frames, metadata=metadata, warnings=warnings, thumb=thumb, clock=clock, decoded=first)


def _inspect_svg(*, name: str, data: bytes, limits: IngestLimits, warnings: list[str],
                 clock: _Clock) -> InspectedFile:
    clean, svg_warnings, (width, height) = sanitise_svg(name=name, data=data, limits=limits)
    warnings.extend(svg_warnings)
    clock.lap("sanitise")
    scale = limits.svg_preview_side / max(width, height)
    try:
        preview = rasterise_svg(clean, width=max(1, round(width * scale)), height=max(1, round(height * scale)),
                                max_pixels=limits.max_pixels)
    except SvgRenderError as exc:
        raise RejectedFile(name=name, code="svg_invalid", reason=str(exc)) from exc
    clock.lap("decode")
    thumb = _thumbnail(preview, orientation=None)
    clock.lap("thumbnail")
    mime, ext = SVG_TYPE
    _warn_on_extension(name=name, ext=ext, warnings=warnings)
    return _describe(name=name, data=clean, mime=mime, ext=ext, size=(max(1, round(width)), max(1, round(height))),
                     mode="RGBA", has_icc=False, frames=1, metadata={"exif": {}, "iptc": {}, "xmp": None},
                     warnings=warnings, thumb=thumb, clock=clock)


def _describe(*, name: str, data: bytes, mime: str, ext: str, size: tuple[int, int], mode: str, has_icc: bool,
              frames: int, metadata: dict, warnings: list[str], thumb: Image.Image, clock: _Clock,
              decoded: Image.Image | None = None) -> InspectedFile:
    phash = perceptual_hash(thumb)
    clock.lap("phash")
    palette = dominant_palette(thumb)
    clock.lap("palette")
    digest = sha256_hex(data)
    clock.lap("sha256")
    return InspectedFile(name=name, mime=mime, ext=ext, data=data, sha256=digest, size=len(data), width=size[0],
                         height=size[1], mode=mode, has_icc=has_icc, frames=frames,
                         metadata={**metadata, "warnings": warnings}, phash=phash, palette=palette,
                         decoded=decoded)


def _read_capped(*, name: str, fileobj: BinaryIO, limits: IngestLimits) -> bytes:
    # read() on raw streams and sockets may return short counts: loop, but never past the cap.
    buf = bytearray()
    while len(buf) <= limits.max_bytes:
        chunk = fileobj.read(min(_READ_CHUNK, limits.max_bytes + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    if len(buf) > limits.max_bytes:
        raise RejectedFile(name=name, code="too_large", reason=f"the file exceeds the {limits.max_bytes}-byte limit")
    return bytes(buf)


def _mpo_entries(im: Image.Image) -> list[tuple[int, int]] | None:
    mpinfo = getattr(im, "mpinfo", None) if im.format == "MPO" else None
    if not mpinfo:
        return None
    return [(int(entry["DataOffset"]), int(entry["Size"])) for entry in mpinfo.get(0xB002, [])]


def _unidentified(*, name: str, data: bytes) -> RejectedFile:
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            try:
                stream_end(fmt=fmt, data=data)
            except StreamTruncated as exc:
                return RejectedFile(name=name, code="truncated", reason=f"{exc}; the file is incomplete")
            except StreamCorrupt:
                pass
            return RejectedFile(name=name, code="corrupt", reason=f"the {fmt} header is damaged and cannot be read")
    what = describe_foreign(data)
    allowed = "JPEG, PNG, WebP, AVIF, GIF, TIFF or SVG"
    if what:
        return RejectedFile(name=name, code="mime_not_allowed", reason=f"the content is {what}, not {allowed}")
    return RejectedFile(name=name, code="mime_not_allowed",
                        reason=f"the content (starting {data[:8].hex()}) is not {allowed}")


def _check_pixels(*, name: str, size: tuple[int, int], limits: IngestLimits, frame: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise RejectedFile(name=name, code="corrupt", reason=f"frame {frame} declares an empty size {width}x{height}")
    if width * height > limits.max_pixels:
        raise RejectedFile(name=name, code="too_many_pixels",
                           reason=f"frame {frame} declares {width}x{height} = {width * height} pixels, over the "
                                  f"{limits.max_pixels}-pixel limit (refused before decoding)")


def _decode(*, name: str, im: Image.Image, frame: int) -> None:
    try:
        im.load()
    # This is where untrusted bytes meet C decoders; whatever they raise means the file is damaged.
    except Exception as exc:  # noqa: BLE001
        code = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise RejectedFile(name=name, code=code, reason=f"frame {frame} cannot be decoded ({exc})") from exc


def _decode_remaining_frames(*, name: str, im: Image.Image, limits: IngestLimits) -> int:
    total = im.size[0] * im.size[1]
    frame = 1
    while True:
        try:
            im.seek(frame)
        except EOFError:
            return frame
        except Image.DecompressionBombError as exc:
            raise RejectedFile(name=name, code="too_many_pixels", reason=f"frame {frame} is too large ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - as in _decode
            raise RejectedFile(name=name, code="corrupt", reason=f"frame {frame} cannot be read ({exc})") from exc
        if frame >= limits.max_frames:
            raise RejectedFile(name=name, code="too_many_frames",
                               reason=f"the animation has more than {limits.max_frames} frames")
        _check_pixels(name=name, size=im.size, limits=limits, frame=frame)
        total += im.size[0] * im.size[1]
        if total > limits.max_total_pixels:
            raise RejectedFile(name=name, code="too_many_pixels",
                               reason=f"the frames add up to more than {limits.max_total_pixels} pixels")
        _decode(name=name, im=im, frame=frame)
        frame += 1


def _thumbnail(im: Image.Image, *, orientation: int | None) -> Image.Image:
    """A small upright RGBA copy for phash and palette, made from the already decoded pixels."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Pillow clips rather than scales deep greys to 8 bits; scale by the actual range instead.
        arr = np.asarray(im, dtype=np.float32)
        peak = float(arr.max()) or 1.0
        im = Image.fromarray((np.clip(arr, 0, None) * (255.0 / peak)).astype(np.uint8), "L")
    elif im.mode in ("1", "P", "PA"):
        im = im.convert("RGBA")
    scale = THUMB_SIDE / max(im.size)
    if scale < 1:
        size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
        im = im.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    try:
        thumb = im.convert("RGBA")
    except ValueError:  # modes Pillow cannot convert to RGB (LAB, HSV): their first band is lightness-like
        thumb = im.getchannel(0).convert("RGBA")
    return thumb.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else thumb


def _warn_on_extension(*, name: str, ext: str, warnings: list[str]) -> None:
    given = os.path.splitext(name)[1].lstrip(".").lower()
    if given and given not in _EXT_ALIASES.get(ext, {ext}):
        warnings.append(f"the name ends in .{given} but the content is .{ext}; it is stored as .{ext}")


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
            self.last = now
