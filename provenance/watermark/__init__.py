"""BrandForge's invisible image watermark (placeholder docstring, rewritten below)."""

from provenance.watermark.coding import PAYLOAD_BITS
from provenance.watermark.detect import Detection, detect
from provenance.watermark.embed import DEFAULT_STRENGTH, MIN_SIDE, embed
from provenance.watermark.exceptions import (
    ImageTooSmallError,
    InvalidPayloadError,
    InvalidStrengthError,
    UnsupportedModeError,
    WatermarkError,
)

ALGORITHM = "com.brandforge.wm.v1"

__all__ = [
    "ALGORITHM",
    "DEFAULT_STRENGTH",
    "MIN_SIDE",
    "PAYLOAD_BITS",
    "Detection",
    "ImageTooSmallError",
    "InvalidPayloadError",
    "InvalidStrengthError",
    "UnsupportedModeError",
    "WatermarkError",
    "detect",
    "embed",
]
