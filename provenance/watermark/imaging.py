"""Moving between Pillow images and a float luminance plane, keeping colour and alpha intact."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from provenance.watermark.exceptions import UnsupportedModeError

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
SUPPORTED_MODES = frozenset({"RGB", "RGBA", "L", "LA", "P"})


@dataclass(frozen=True)
class Planes:
    """The luminance plane of an image plus what is needed to rebuild it after a change."""

    luma: np.ndarray  # float32, H x W
    colour: np.ndarray | None  # float32 RGB, H x W x 3 (None for grey images)
    alpha: np.ndarray | None  # uint8, H x W
    mode: str  # the mode the rebuilt image will have


def split(image: Image.Image) -> Planes:
    """Luminance (BT.601 Y, as in JPEG's YCbCr) and the rest of the image."""
    if image.mode not in SUPPORTED_MODES:
        raise UnsupportedModeError(mode=image.mode)
    if image.mode == "P":
        # A palette cannot hold fine luminance changes: such images come back as RGB(A).
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        image = image.convert("RGBA" if has_alpha else "RGB")
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.uint8)
    if image.mode in ("L", "LA"):
        luma = np.asarray(image.getchannel("L"), dtype=np.float32)
        return Planes(luma=luma, colour=None, alpha=alpha, mode=image.mode)
    colour = np.asarray(image.convert("RGB"), dtype=np.float32)
    return Planes(luma=colour @ _LUMA, colour=colour, alpha=alpha, mode=image.mode)


def luma_of(image: Image.Image) -> np.ndarray:
    """Luminance of any image Pillow can convert, for detection (never raises on a mode)."""
    if image.mode in ("L", "LA"):
        return np.asarray(image.getchannel("L"), dtype=np.float32)
    if image.mode in ("RGB", "RGBA", "P"):
        return np.asarray(image.convert("RGB"), dtype=np.float32) @ _LUMA
    return np.asarray(image.convert("L"), dtype=np.float32)


def merge(planes: Planes, *, delta: np.ndarray) -> Image.Image:
    """Add ``delta`` to the luminance only: adding the same amount to R, G and B keeps Cb and Cr."""
    if planes.colour is None:
        grey = np.clip(np.rint(planes.luma + delta), 0, 255).astype(np.uint8)
        out = Image.fromarray(grey, mode="L")
    else:
        rgb = np.clip(np.rint(planes.colour + delta[..., None]), 0, 255).astype(np.uint8)
        out = Image.fromarray(rgb, mode="RGB")
    if planes.alpha is not None:
        out.putalpha(Image.fromarray(planes.alpha, mode="L"))
    return out
