"""What identifies an image's content apart from its bytes: decoded pixels and perceptual hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image

from provenance.watermark import PAYLOAD_BITS

PHASH_ALGORITHM = "com.brandforge.phash.v1"
PHASH_BITS = 64
_PAYLOAD_BYTES = PAYLOAD_BITS // 8


class ImageDecodeError(Exception):
    """The bytes are not an image Pillow can fully decode within the pixel budget."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    mime_type: str
    pixel_sha256: str
    phash: str

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def decode_image(*, data: bytes, max_pixels: int) -> DecodedImage:
    """Fully decode `data` (first frame), refusing more than `max_pixels` before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageDecodeError(
                    f"{width}×{height} image: more than the {max_pixels} pixels this service decodes"
                )
            mime_type = Image.MIME.get(image.format or "", "application/octet-stream")
            image.load()
    except ImageDecodeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"not a decodable image (truncated or corrupt): {exc}") from exc
    return DecodedImage(image=image, mime_type=mime_type, pixel_sha256=pixel_digest(image), phash=phash_hex(image))


def pixel_digest(image: Image.Image) -> str:
    """sha256 over mode, size and raw pixels: equal for any lossless re-encoding of the same image."""
    normal = image.convert("RGBA") if image.mode not in ("RGB", "RGBA", "L", "LA") else image
    digest = hashlib.sha256(f"{normal.mode}:{normal.width}x{normal.height}:".encode())
    digest.update(normal.tobytes())
    return digest.hexdigest()


def phash_hex(image: Image.Image) -> str:
    return str(imagehash.phash(image.convert("RGB")))


def phash_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def similarity_percent(distance: int) -> int:
    """0..100, the soft-binding API's similarityScore scale: 100 means identical hashes."""
    return round(100 * (PHASH_BITS - distance) / PHASH_BITS)


def watermark_id_from_payload(payload: int) -> str:
    """The soft-binding value for a watermark payload: base64 of its 6 big-endian bytes."""
    return base64.b64encode(payload.to_bytes(_PAYLOAD_BYTES, "big")).decode("ascii")


def payload_from_watermark_id(value: str) -> int:
    """Inverse of `watermark_id_from_payload`; accepts standard or URL-safe base64."""
    normal = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"soft-binding value {value!r}: not base64") from exc
    if len(raw) != _PAYLOAD_BYTES:
        raise ValueError(f"soft-binding value {value!r}: {len(raw)} bytes, expected {_PAYLOAD_BYTES}")
    return int.from_bytes(raw, "big")
