"""Limits and policy for ingest, one frozen object so a caller can pass it through unchanged."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestLimits:
    # One file.
    max_bytes: int = 200 * MIB
    max_pixels: int = 80_000_000  # per frame, checked from the header before any decoding
    max_total_pixels: int = 400_000_000  # summed over all frames: bounds decode time of animations
    max_frames: int = 1000
    # Bytes allowed after a JPEG EOI / PNG IEND / GIF trailer / RIFF or ISO-BMFF end (encoder padding).
    max_trailing_bytes: int = 1024
    # SVG.
    max_svg_bytes: int = 5 * MIB
    max_svg_elements: int = 50_000  # counted with <use> references expanded (the "billion laughs" of SVG)
    reject_unsafe_svg: bool = False  # False: remove active content and record warnings; True: refuse the file
    svg_preview_side: int = 256  # the raster made for width/height checks, phash and palette
    # Metadata kept as JSON.
    max_metadata_value_chars: int = 1024  # one EXIF/IPTC value; longer ones are truncated with a warning
    max_metadata_bytes: int = 256 * 1024  # all EXIF+IPTC JSON; tags beyond are dropped with a warning
    max_xmp_bytes: int = 256 * 1024  # a larger XMP packet is dropped with a warning, never half-kept
    # Archives (dam_import of .zip files).
    max_archive_members: int = 10_000
    max_archive_bytes: int = 4 * 1024 * MIB  # sum of declared uncompressed sizes
    max_compression_ratio: float = 100.0  # per member, only for members over ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MIB
