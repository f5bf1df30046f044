"""The periodic watermark tile: chip layout, band-limited rendering and matched filtering.

A tile is a GRID x GRID array of +-1 chips. A quarter of the chips form a fixed sync pattern; the
rest carry the code bits, each code bit spread over several chips scattered across the tile with
its own pseudo-random sign. Chips are rendered to pixels by band-limited (Fourier) interpolation,
with the lowest spatial frequencies removed: they are where image content is strongest (so they
would cost robustness) and where a pattern is most visible (blotches). Everything derives from a
fixed seed, so embedder and detector agree without any stored state.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np

from provenance.watermark.coding import CODED_BITS

GRID = 32
TILE = 128
FOLD = 64
_SYNC_FRACTION = 0.25
_PEAK_LIMIT = 1.6
LOW_CUT = 2.5  # cycles per tile removed from the pattern
_SEED = int.from_bytes(hashlib.sha256(b"com.brandforge.wm.v1/layout").digest()[:8], "big")


class _Layout:
    def __init__(self) -> None:
        rng = np.random.default_rng(_SEED)
        order = rng.permutation(GRID * GRID)
        n_sync = int(GRID * GRID * _SYNC_FRACTION)
        self.sync_chips = order[:n_sync]
        self.message_chips = order[n_sync:]
        self.sync_signs = rng.choice(np.array([-1.0, 1.0]), n_sync)
        self.message_signs = rng.choice(np.array([-1.0, 1.0]), self.message_chips.size)
        self.chip_bit = np.arange(self.message_chips.size) % CODED_BITS
        self.whitening = rng.integers(0, 2, CODED_BITS).astype(np.int8)


@cache
def layout() -> _Layout:
    return _Layout()


@cache
def _band_mask(size: int) -> np.ndarray:
    """Which frequencies of a size x size FFT (cropped from the GRID spectrum) the pattern uses."""
    f = np.fft.fftfreq(size, d=1.0 / size)
    radius = np.hypot(f[:, None], f[None, :])
    return (radius >= LOW_CUT) & (np.abs(f[:, None]) < GRID // 2) & (np.abs(f[None, :]) < GRID // 2)


def _upsample(chips: np.ndarray, size: int) -> np.ndarray:
    spectrum = np.fft.fft2(chips)
    out = np.zeros((size, size), dtype=complex)
    idx = np.fft.fftfreq(GRID, d=1.0 / GRID).astype(int)
    out[np.ix_(idx % size, idx % size)] = spectrum
    out *= _band_mask(size)
    return np.real(np.fft.ifft2(out)) * (size / GRID) ** 2


def chip_grid(*, code_bits: np.ndarray | None, sync: bool = True) -> np.ndarray:
    lay = layout()
    chips = np.zeros(GRID * GRID)
    if sync:
        chips[lay.sync_chips] = lay.sync_signs
    if code_bits is not None:
        symbols = 2.0 * (code_bits ^ lay.whitening) - 1.0
        chips[lay.message_chips] = lay.message_signs * symbols[lay.chip_bit]
    return chips.reshape(GRID, GRID)


def render_tile(code_bits: np.ndarray) -> np.ndarray:
    """The TILE x TILE pixel pattern for these code bits, unit RMS.

    The rare tall peaks of the interpolated pattern are what an eye picks out as specks on flat
    colour, so they are softly limited (costing little energy) before normalising.
    """
    tile = _upsample(chip_grid(code_bits=code_bits), TILE)
    tile /= np.sqrt(np.mean(tile**2))
    tile = _PEAK_LIMIT * np.tanh(tile / _PEAK_LIMIT)
    return (tile / np.sqrt(np.mean(tile**2))).astype(np.float32)


@cache
def sync_template_spectrum() -> np.ndarray:
    """Conjugate spectrum of the sync pattern at FOLD resolution, for circular correlation."""
    template = _upsample(chip_grid(code_bits=None), FOLD)
    template /= np.linalg.norm(template)
    return np.conj(np.fft.fft2(template))


def chip_values(folded: np.ndarray, *, shift: tuple[float, float]) -> np.ndarray:
    """Matched-filter chip estimates from a FOLD x FOLD folded residual aligned by ``shift``.

    The fractional shift is undone with a phase ramp; keeping only the pattern's band and the
    GRID x GRID low frequencies is the adjoint of the band-limited rendering.
    """
    spectrum = np.fft.fft2(folded) * _band_mask(FOLD)
    f = np.fft.fftfreq(FOLD)
    ramp = np.exp(2j * np.pi * (f[:, None] * shift[0] + f[None, :] * shift[1]))
    spectrum *= ramp
    idx = np.fft.fftfreq(GRID, d=1.0 / GRID).astype(int) % FOLD
    return np.real(np.fft.ifft2(spectrum[np.ix_(idx, idx)])).reshape(-1)


def soft_code_bits(chips: np.ndarray) -> np.ndarray:
    """Combine chip estimates into one soft value per code bit (> 0 means a 1)."""
    lay = layout()
    contributions = chips[lay.message_chips] * lay.message_signs
    soft = np.bincount(lay.chip_bit, weights=contributions, minlength=CODED_BITS)
    soft *= 1.0 - 2.0 * lay.whitening
    scale = np.sqrt(np.mean(soft**2)) or 1.0
    return soft / scale
