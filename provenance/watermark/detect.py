"""Detection: residual -> tile period (scale) -> fold -> sync (offset) -> Viterbi -> CRC."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image
from scipy import fft, ndimage

from provenance.watermark import coding, pattern
from provenance.watermark.imaging import luma_of
from provenance.watermark.residual import residuals

MIN_DETECT_SIDE = 64
MAX_DECODES = 6
_MIN_PERIOD = 40.0
_MAX_PERIOD = 240.0
_CLIP_MADS = 2.0
# On a flat logo the residual's MAD is ~0, so this floor is the clip: the band beside its edges
# carries 3-6 grey levels, and a lower floor would flatten it to its sign.
_MIN_CLIP = 3.0
_WEIGHT_BLOCK = 8
_WHITEN_WIDTH = 5
_COMB_STEPS = 480
_COMB_CANDIDATES = 4
_POLISH = 1
_POLISH_STEPS = (-0.008, -0.004, 0.004, 0.008)
_WEIGHT_FLOOR = 1.0
# Always tried besides the periods the spectrum suggests: as marked, and halved (thumbnails), where
# a weak mark's spectral lines may not stand out.
_NOMINAL_SCALES = (1.0, 0.5)


@dataclass(frozen=True)
class Detection:
    """What ``detect`` found. ``payload`` is the 48-bit ID when ``found``, else None."""

    found: bool
    payload: int | None
    confidence: float  # sync peak height in standard deviations of the correlation surface
    scale: tuple[float, float] | None  # (vertical, horizontal) size relative to the marked image
    offset: tuple[float, float] | None  # (y, x) of the tile origin in pixels of this image
    reason: str

    @property
    def payload_bytes(self) -> bytes | None:
        if self.payload is None:
            return None
        return self.payload.to_bytes(coding.PAYLOAD_BITS // 8, "big")


def _residual(luma: np.ndarray) -> np.ndarray:
    """High-passed, outlier-clipped luminance: mostly watermark and noise, few edges.

    Edges are predicted along their direction (``residual``): the watermark of a flat logo lies in
    bands beside its edges, where a plain box residual is all edge.
    """
    residual = residuals(luma).oriented
    spread = 1.4826 * float(np.median(np.abs(residual[::3, ::3]))) * _CLIP_MADS
    limit = max(spread, _MIN_CLIP)
    np.clip(residual, -limit, limit, out=residual)
    # Divide by the local residual level: busy texture (host noise) counts less, flat areas
    # (where the pattern is nearly all there is) count more. Block means keep this cheap.
    h, w = residual.shape
    b = _WEIGHT_BLOCK
    hb, wb = -(-h // b), -(-w // b)
    padded = np.zeros((hb * b, wb * b), dtype=np.float32)
    padded[:h, :w] = residual
    blocks = padded.reshape(hb, b, wb, b)
    energy = np.einsum("ijkl,ijkl->ik", blocks, blocks)
    filled = np.outer(
        np.minimum(b, h - b * np.arange(hb)), np.minimum(b, w - b * np.arange(wb))
    ).astype(np.float32)
    local = ndimage.uniform_filter(energy, 3, mode="nearest") / ndimage.uniform_filter(
        filled, 3, mode="nearest"
    )
    blocks /= np.sqrt(local + _WEIGHT_FLOOR)[:, None, :, None]
    return padded[:h, :w]


def _peaks(profile: np.ndarray, lo: int, hi: int) -> list[int]:
    """Local maxima of ``profile`` in [lo, hi], strongest first."""
    seg = profile[lo - 1 : hi + 2]
    inner = seg[1:-1]
    is_peak = (inner >= seg[:-2]) & (inner > seg[2:])
    idx = np.nonzero(is_peak)[0]
    return [int(i) + lo for i in idx[np.argsort(inner[idx])[::-1]]]


def _whiten(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten the residual's spectrum; return it and its whitened power spectrum (half plane).

    The tiling makes the watermark's spectrum a grid of narrow lines, while what is left of the
    image (stripes, checks, the 1/f slope of photos) is smooth or much wider. Dividing by the
    local average of the power spectrum keeps the lines and evens out the rest, so neither the
    fold nor the period search is dominated by the image's own repetitive structure.
    """
    spectrum = fft.rfft2(residual.astype(np.float32))
    power = spectrum.real**2 + spectrum.imag**2
    smooth = ndimage.uniform_filter(power, _WHITEN_WIDTH, mode="wrap")
    # Float round-off can leave tiny negatives; a flat image has (almost) no power at all.
    np.maximum(smooth, 1e-6 * float(smooth.mean()) + 1e-12, out=smooth)
    white = fft.irfft2(spectrum / np.sqrt(smooth), s=residual.shape)
    return white, power / smooth


@cache
def _comb(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate periods and the (ky, kx) harmonics of the tile that carry the pattern."""
    periods = np.geomspace(_MIN_PERIOD, _MAX_PERIOD, count)
    k = np.arange(-pattern.GRID // 2 + 1, pattern.GRID // 2)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    keep = (np.hypot(ky, kx) >= pattern.LOW_CUT) & ((kx > 0) | ((kx == 0) & (ky > 0)))
    return periods, ky[keep], kx[keep]


def _candidate_periods(white_power: np.ndarray, shape: tuple[int, int]) -> list[float]:
    """Isotropic tile periods whose harmonics carry unusual power, strongest first.

    A tile of period P puts the pattern's power on the frequencies (ky, kx) / P for the harmonics
    inside the pattern's band, so the mean whitened power over that comb peaks at the true P.
    Using only in-band harmonics (hundreds of them) keeps stripes and checks in the image, which
    light up a few frequencies, from winning.
    """
    h, w = shape
    periods, ky, kx = _comb(_COMB_STEPS)
    rows = np.rint(ky[None, :] * (h / periods[:, None])).astype(np.intp) % h
    cols = np.rint(kx[None, :] * (w / periods[:, None])).astype(np.intp)
    # At least 1.5 periods must fit for the tiling to show as lines.
    valid = periods <= min(h, w) / 1.5
    np.minimum(cols, white_power.shape[1] - 1, out=cols)
    score = white_power[rows, cols].mean(axis=1)
    score[~valid] = 0.0
    peaks = _peaks(score, 1, score.size - 2)[:_COMB_CANDIDATES]
    return [float(periods[i]) for i in peaks]


def _fold(residual: np.ndarray, period: tuple[float, float]) -> np.ndarray:
    """Average the residual into one FOLD x FOLD tile, assuming it repeats every ``period`` px."""
    h, w = residual.shape
    by = (np.arange(h) % period[0] * (pattern.FOLD / period[0])).astype(np.intp)
    bx = (np.arange(w) % period[1] * (pattern.FOLD / period[1])).astype(np.intp)
    np.minimum(by, pattern.FOLD - 1, out=by)
    np.minimum(bx, pattern.FOLD - 1, out=bx)
    index = (by[:, None] * pattern.FOLD + bx[None, :]).reshape(-1)
    sums = np.bincount(index, weights=residual.reshape(-1), minlength=pattern.FOLD**2)
    counts = np.outer(
        np.bincount(by, minlength=pattern.FOLD), np.bincount(bx, minlength=pattern.FOLD)
    ).reshape(-1)
    return (sums / np.maximum(counts, 1)).reshape(pattern.FOLD, pattern.FOLD)


def _sync(folded: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Height (z-score) and sub-bin position of the sync pattern's correlation peak."""
    surface = np.real(np.fft.ifft2(np.fft.fft2(folded) * pattern.sync_template_spectrum()))
    flat = surface.reshape(-1)
    top = int(np.argmax(flat))
    z = float((flat[top] - flat.mean()) / (flat.std() or 1.0))
    iy, ix = divmod(top, pattern.FOLD)
    n = pattern.FOLD

    def sub(a: float, b: float, c: float) -> float:
        denom = a - 2 * b + c
        return 0.5 * (a - c) / denom if denom < 0 else 0.0

    dy = iy + sub(surface[(iy - 1) % n, ix], surface[iy, ix], surface[(iy + 1) % n, ix])
    dx = ix + sub(surface[iy, (ix - 1) % n], surface[iy, ix], surface[iy, (ix + 1) % n])
    return z, (dy, dx)


@dataclass(frozen=True)
class Alignment:
    """One (period, offset) tried by the detector: its sync peak and the folded residual."""

    period: tuple[float, float]
    shift: tuple[float, float]
    sync_z: float
    folded: np.ndarray

    def message(self) -> np.ndarray:
        """Viterbi-decoded message bits (payload + check) under this alignment."""
        chips = pattern.chip_values(self.folded, shift=self.shift)
        return coding.viterbi(pattern.soft_code_bits(chips))


def _align(residual: np.ndarray, period: tuple[float, float]) -> Alignment:
    folded = _fold(residual, period)
    z, shift = _sync(folded)
    return Alignment(period=period, shift=shift, sync_z=z, folded=folded)


def alignments(luma: np.ndarray) -> list[Alignment]:
    """Every alignment worth decoding, best sync first (at most MAX_DECODES)."""
    residual, white_power = _whiten(_residual(luma))
    nominal = float(pattern.TILE)
    candidates = {(nominal * f, nominal * f) for f in _NOMINAL_SCALES}
    candidates.update((p, p) for p in _candidate_periods(white_power, residual.shape))
    found = [_align(residual, period) for period in candidates]
    found.sort(key=lambda item: item.sync_z, reverse=True)
    # Autocorrelation peaks are only good to a pixel or so, and that error adds up over the
    # tiles of a large image: polish the strongest alignments by trying nearby periods.
    polished = []
    for best in found[:_POLISH]:
        for step in _POLISH_STEPS:
            period = (best.period[0] * (1 + step), best.period[1] * (1 + step))
            polished.append(_align(residual, period))
    found += polished
    found.sort(key=lambda item: item.sync_z, reverse=True)
    return found[:MAX_DECODES]


def detect(image: Image.Image) -> Detection:
    """Look for a BrandForge watermark. Never raises on a readable image."""
    if min(image.size) < MIN_DETECT_SIDE:
        return Detection(
            found=False, payload=None, confidence=0.0, scale=None, offset=None,
            reason=f"image is {image.size[0]}x{image.size[1]} px, below the "
            f"{MIN_DETECT_SIDE} px needed to search for a watermark",
        )
    tried = alignments(luma_of(image))
    for hyp in tried:
        bits = coding.split_and_check(hyp.message())
        if bits is not None:
            scale = (hyp.period[0] / pattern.TILE, hyp.period[1] / pattern.TILE)
            offset = (
                hyp.shift[0] * hyp.period[0] / pattern.FOLD,
                hyp.shift[1] * hyp.period[1] / pattern.FOLD,
            )
            return Detection(
                found=True, payload=coding.bits_to_int(bits), confidence=hyp.sync_z,
                scale=scale, offset=(float(offset[0]), float(offset[1])),
                reason="payload decoded and its check matched",
            )
    best = max((h.sync_z for h in tried), default=0.0)
    return Detection(
        found=False, payload=None, confidence=best, scale=None, offset=None,
        reason="no alignment decoded to a payload whose check matched",
    )
