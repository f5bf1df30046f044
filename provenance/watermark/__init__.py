"""BrandForge's invisible image watermark (soft-binding algorithm ``com.brandforge.wm.v1``).

Pure numpy/scipy/Pillow; no Django import.

Embedding (``embed``): a 48-bit ID gets a 24-bit keyed check (``coding``), is protected by a
rate-1/2, K=7 convolutional code (156 code bits) and spread over a 128 x 128 px tile of 32 x 32
chips, a quarter of which form a fixed sync pattern (``pattern``). The tile is band-limited
(2.5-16 cycles per tile), repeated over the whole image, scaled per pixel by local contrast (a
visual mask: about 1.8 grey levels on flat colour, up to 5 in texture, PSNR capped at 40.6 dB) and
added to luminance only (the same amount to R, G and B, so chroma does not move).

Detection (``detect``): the luminance is high-passed, clipped and divided by its local level;
its spectrum is whitened so only narrow spectral lines stand out (what a tiling makes). The tile
period (i.e. the scale after a resize) is where the mean whitened power over the tile's in-band
harmonics peaks; the residual is folded into one tile at each candidate period, the sync pattern
is found by circular correlation (giving the crop offset), the best alignments are polished, and
soft chip values feed a Viterbi decoder.

False positives. ``found`` is True only when a decoded 72-bit message passes its 24-bit check.
For an unmarked image, the check field decoded under one alignment matches the keyed CRC of the
payload field with probability 2**-24 (the CRC is keyed and the code bits are whitened, so a
flat or structured image does not decode to a valid all-zero or repeated word). At most
``detect.MAX_DECODES`` (6) alignments are decoded per image, so by the union bound

    P(false detection per unmarked image) <= 6 * 2**-24 = 3.6e-7  (< 1e-6).

The sync peak only ranks alignments; it is not needed for the bound. The benchmark measures the
rate on 10,000 unmarked images and crops (bench/provenance_watermark.py).
"""

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
