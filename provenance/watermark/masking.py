"""Where the watermark may go, and how strong: a visual mask over the luminance.

A pattern of even one grey level shows on flat colour (a mottle on a flat fill, grey specks on
white paper), and flat colour is also where compression removes it first. Texture hides several
levels, and so does the immediate surround of an edge. So the amplitude is built from what the
image itself does there:

- texture: the local level of what the oriented predictor cannot explain (``residual``), so
  straight and gently curved edges, flat colour and smooth ramps count for nothing;
- edges: the local level of the box residual, capped low, so a band a few pixels wide along an edge
  carries a little of the pattern; this is what a flat logo has to offer, and it survives JPEG,
  WebP and downscaling where a lone edge line would not;
- headroom: near white and black only one side of the pattern survives clipping, and one-sided
  darkening of white paper is what reads as grey specks, so those pixels get nothing.

Flat colour (and linear ramps) more than about 20 px from any edge or texture is left exactly as
it was: the amplitude there is zero, not merely small.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from provenance.watermark.residual import residuals

# Amplitudes are in grey levels per unit of the (unit-RMS) tile, at strength 1.
TEXTURE_SIGMA = 2.0
TEXTURE_GAIN = 1.5
TEXTURE_MAX = 8.0
EDGE_SIGMA = 4.0
# 4.5, not 3: with flat colour left untouched, a sparse logo's edge band is all the carrier it has;
# at 3 grey levels JPEG q75 + resize 50% decoded 94% of the test set, at 4.5 95% (bench/RESULTS_watermark.md).
EDGE_MAX = 4.5
HEADROOM = 16.0  # grey levels from white or black at which the amplitude starts to fall
# The predictions work in float32 and leave ~1e-5 of rounding on flat colour: that is no detail.
_NO_DETAIL = 0.01


def _local_level(residual: np.ndarray, sigma: float) -> np.ndarray:
    """RMS of ``residual`` under a Gaussian window of ``sigma`` px.

    Computed on 2 x 2 block means: the result is smooth anyway, and it is a quarter of the work.
    Where every residual under the window is zero, so is the level.
    """
    h, w = residual.shape
    power = np.pad(residual * residual, ((0, h % 2), (0, w % 2)), mode="edge")
    half = power.reshape(power.shape[0] // 2, 2, power.shape[1] // 2, 2).mean(axis=(1, 3))
    half = ndimage.gaussian_filter(half, sigma / 2)
    full = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)[:h, :w]
    return np.sqrt(np.maximum(full, 0.0))


def amplitude(luma: np.ndarray) -> np.ndarray:
    """Per-pixel amplitude of the watermark (float32, same shape as ``luma``)."""
    luma = np.asarray(luma, dtype=np.float32)
    res = residuals(luma)
    texture = _local_level(res.oriented, TEXTURE_SIGMA)
    edges = _local_level(res.box, EDGE_SIGMA)
    amp = np.maximum(np.minimum(TEXTURE_GAIN * texture, TEXTURE_MAX), np.minimum(edges, EDGE_MAX))
    amp[amp < _NO_DETAIL] = 0.0
    headroom = np.clip(np.minimum(255.0 - luma, luma) / HEADROOM, 0.0, 1.0)
    return amp * headroom
