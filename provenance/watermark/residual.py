"""Host prediction, shared by the embedder's visual mask and the detector.

Whatever part of the image a local predictor cannot explain is noise to the detector and, to the
eye, detail that can hide the watermark. A 7 px box mean predicts flat colour and smooth ramps
exactly, but not edges: beside a sharp logo edge its residual is tens of grey levels, which drowns
the few levels of watermark there. Along an edge, though, the image is predictable. So wherever some
direction crosses an edge, a pixel is predicted instead by the mean of the 7 pixels along the
direction (horizontal, vertical or diagonal) in which the image varies least, provided that
direction is much smoother than the one across. What is left is texture, corners, text strokes and
the watermark; straight and gently curved edges cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TAPS = 7
_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))
# Variance (grey levels squared) along some direction above which that direction crosses an edge.
# The watermark on flat colour (at most about 6 levels, varying over 8 px or more) stays below it.
_EDGE_VARIANCE = 16.0
# ... and where some other direction is at least 4x smoother: an edge, not texture. In texture the
# smoothest direction changes from pixel to pixel, and predicting along it would scramble the
# watermark there instead of removing the host.
_SMOOTH_RATIO = 0.25


@dataclass(frozen=True)
class Residuals:
    """Luminance minus two predictions of it (float32, same shape as the luminance)."""

    box: np.ndarray  # minus the TAPS x TAPS mean: zero on flat colour and linear ramps
    oriented: np.ndarray  # as ``box``, but minus the mean along the edge where there is one


def _sum_along(padded: np.ndarray, shape: tuple[int, int], dy: int, dx: int) -> np.ndarray:
    """Sum of the TAPS pixels centred on each pixel along (dy, dx); ``padded`` has TAPS // 2 more
    on every side than ``shape``."""
    h, w = shape
    r = TAPS // 2
    total = padded[r - r * dy : r - r * dy + h, r - r * dx : r - r * dx + w].copy()
    for k in range(-r + 1, r + 1):
        total += padded[r + k * dy : r + k * dy + h, r + k * dx : r + k * dx + w]
    return total


def residuals(luma: np.ndarray) -> Residuals:
    """Both residuals of a luminance plane (any float array, H x W)."""
    luma = np.asarray(luma, dtype=np.float32)
    shape = luma.shape
    r = TAPS // 2
    padded = np.pad(luma, r, mode="symmetric")
    squared = padded * padded
    least = along = most = horizontal = None
    for dy, dx in _DIRECTIONS:
        mean = _sum_along(padded, shape, dy, dx) * (1.0 / TAPS)
        variance = _sum_along(squared, shape, dy, dx) * (1.0 / TAPS) - mean * mean
        if least is None:
            horizontal = mean
            least, along, most = variance, mean.copy(), variance.copy()
            continue
        smoother = variance < least
        np.copyto(least, variance, where=smoother)
        np.copyto(along, mean, where=smoother)
        np.maximum(most, variance, out=most)
    box = luma - _vertical_mean(horizontal)
    oriented = box.copy()
    np.copyto(oriented, luma - along, where=(most > _EDGE_VARIANCE) & (least < _SMOOTH_RATIO * most))
    return Residuals(box=box, oriented=oriented)


def _vertical_mean(image: np.ndarray) -> np.ndarray:
    r = TAPS // 2
    h = image.shape[0]
    padded = np.pad(image, ((r, r), (0, 0)), mode="symmetric")
    total = padded[0:h].copy()
    for k in range(1, TAPS):
        total += padded[k : k + h]
    return total * (1.0 / TAPS)
