"""Embedding: a visually masked (``masking``), periodic spread-spectrum pattern added to luminance."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from provenance.watermark import coding, masking, pattern
from provenance.watermark.exceptions import (
    ImageTooSmallError,
    InvalidPayloadError,
    InvalidStrengthError,
)
from provenance.watermark.imaging import merge, split

MIN_SIDE = 128
DEFAULT_STRENGTH = 1.0
# The RMS cap keeps PSNR >= 40 dB whatever the content (busy photos reach it).
_MAX_RMS = 255.0 / 10 ** (40.6 / 20)


def payload_to_bits(payload: bytes | int) -> np.ndarray:
    """A 48-bit ID as bits; bytes must be exactly 6 long, ints in [0, 2**48)."""
    if isinstance(payload, bool):
        raise InvalidPayloadError(payload=payload, reason="expected bytes or int, got bool")
    if isinstance(payload, bytes | bytearray):
        if len(payload) != coding.PAYLOAD_BITS // 8:
            raise InvalidPayloadError(
                payload=payload, reason=f"must be exactly {coding.PAYLOAD_BITS // 8} bytes"
            )
        return coding.int_to_bits(int.from_bytes(payload, "big"))
    if isinstance(payload, int):
        if not 0 <= payload < 1 << coding.PAYLOAD_BITS:
            raise InvalidPayloadError(
                payload=payload, reason=f"must be in [0, 2**{coding.PAYLOAD_BITS})"
            )
        return coding.int_to_bits(payload)
    raise InvalidPayloadError(payload=payload, reason="expected bytes or int")


def watermark_delta(luma: np.ndarray, *, payload_bits: np.ndarray, strength: float) -> np.ndarray:
    """The luminance change that carries ``payload_bits`` (float32, same shape as ``luma``)."""
    tile = pattern.render_tile(coding.encode(payload_bits))
    h, w = luma.shape
    reps = (-(-h // pattern.TILE), -(-w // pattern.TILE))
    tiled = np.tile(tile, reps)[:h, :w]
    delta = strength * masking.amplitude(luma) * tiled
    rms = float(np.sqrt(np.mean(delta * delta)))
    if rms > _MAX_RMS * strength:
        delta *= _MAX_RMS * strength / rms
    return delta


def embed(
    image: Image.Image, *, payload: bytes | int, strength: float = DEFAULT_STRENGTH
) -> Image.Image:
    """Return a copy of ``image`` carrying ``payload`` (a 48-bit ID) invisibly in its luminance.

    RGB, RGBA, L and LA images keep their mode; palette images come back as RGB (or RGBA when
    they have transparency). Alpha is copied untouched. ``strength`` scales the pattern (1.0 keeps
    PSNR >= 40 dB).
    """
    if not (isinstance(strength, int | float) and math.isfinite(strength) and 0 < strength <= 4):
        raise InvalidStrengthError(strength=strength)
    bits = payload_to_bits(payload)
    if min(image.size) < MIN_SIDE:
        raise ImageTooSmallError(size=image.size, minimum=MIN_SIDE)
    planes = split(image)
    delta = watermark_delta(planes.luma, payload_bits=bits, strength=float(strength))
    return merge(planes, delta=delta)
