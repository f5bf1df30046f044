"""BrandForge's invisible image watermark (soft-binding algorithm ``com.brandforge.wm.v1``).

Pure numpy/scipy/Pillow; no Django import.

Embedding (``embed``): a 48-bit ID gets a 24-bit keyed check (``coding``), is protected by a
rate-1/2, K=7 convolutional code (156 code bits) and spread over a 128 x 128 px tile of 32 x 32
chips, a quarter of which form a fixed sync pattern (``pattern``). The tile is band-limited
(2.5-16 cycles per tile), repeated over the whole image, scaled per pixel by a visual mask
(``masking``) and added to luminance only (the same amount to R, G and B, so chroma does not move).
The mask spends the pattern where the image can hide it: up to 8 grey levels in texture, at most 3
in a band about 15 px wide beside edges, nothing on flat colour, smooth ramps, white or black. Flat
colour away from edges comes back bit for bit unchanged. An RMS cap keeps PSNR >= 40.5 dB.

Detection (``detect``): the luminance is high-passed with an edge-following predictor
(``residual``: along an edge the image is predictable, so the bands beside a logo's edges are
readable), clipped and divided by its local level; its spectrum is whitened so only narrow spectral
lines stand out (what a tiling makes). The tile period (i.e. the scale after a resize) is where the
mean whitened power over the tile's in-band harmonics peaks; the residual is folded into one tile at
each candidate period, the sync pattern is found by circular correlation (giving the crop offset),
the best alignments are polished, and soft chip values feed a Viterbi decoder.

Images with no texture and almost no edges (a single flat shape, a pure gradient) carry little or
no watermark: that is the price of leaving flat colour untouched. Their provenance rests on the
manifest and the perceptual hash.

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
