"""Content hashes: sha256 for exact identity, a 64-bit DCT perceptual hash for near duplicates."""

from __future__ import annotations

import hashlib

import imagehash
from PIL import Image

PHASH_HEX_LEN = 16  # 64 bits


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(image: Image.Image) -> str:
    """64-bit pHash of an image as 16 hex digits; transparent areas count as white.

    Any size works (pHash looks at a 32x32 greyscale copy); ingest passes its 64-px thumbnail.
    """
    if image.mode not in ("RGB", "L"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
    return str(imagehash.phash(image, hash_size=8))


def hamming(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two perceptual hashes (0 = same, 64 = opposite)."""
    for value in (a_hex, b_hex):
        if len(value) != PHASH_HEX_LEN:
            raise ValueError(f"perceptual hash {value!r} must be {PHASH_HEX_LEN} hex digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
