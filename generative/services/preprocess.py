"""Snapshot pixels at one training resolution: uint8 NCHW, cached per snapshot and recipe.

Alpha is composited onto the background colour, the image is centre-cropped or padded to a square,
then resized with an antialiasing filter. The cache key names the snapshot's content hash and every
recipe parameter, so a changed setting never serves stale pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageOps

from dam.models import AssetVersion
from dam.services.files import read_stored
from generative.conf import generative_settings, runs_dir
from generative.models import DatasetSnapshot
from generative.services.errors import DatasetError
from generative.services.snapshots import snapshot_versions
from generative.training.checkpoint import write_atomically

SVG_MIME = "image/svg+xml"
FITS = ("crop", "pad")


def open_version(version: AssetVersion) -> Image.Image:
    data = read_stored(version.file)
    if version.mime == SVG_MIME:
        from dam.ingest.svg import rasterise_svg

        return rasterise_svg(data)
    image = Image.open(io.BytesIO(data))
    image.load()
    return ImageOps.exif_transpose(image)


def to_square(image: Image.Image, *, resolution: int, background: tuple[int, int, int], fit: str) -> np.ndarray:
    """HWC uint8 RGB of side `resolution`."""
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    rgb = Image.alpha_composite(canvas, rgba).convert("RGB")
    w, h = rgb.size
    side = min(w, h) if fit == "crop" else max(w, h)
    if fit == "crop":
        left, top = (w - side) // 2, (h - side) // 2
        square = rgb.crop((left, top, left + side, top + side))
    else:
        square = Image.new("RGB", (side, side), background)
        square.paste(rgb, ((side - w) // 2, (side - h) // 2))
    return np.asarray(square.resize((resolution, resolution), Image.LANCZOS), dtype=np.uint8)


def recipe() -> tuple[tuple[int, int, int], str]:
    fit = generative_settings.FIT
    if fit not in FITS:
        raise DatasetError(f"GENERATIVE_FIT={fit!r} is not one of {FITS}")
    try:
        background = ImageColor.getrgb(generative_settings.BACKGROUND)[:3]
    except ValueError as exc:
        raise DatasetError(f"GENERATIVE_BACKGROUND={generative_settings.BACKGROUND!r} is not a colour") from exc
    return background, fit


def cache_path(snapshot: DatasetSnapshot, *, resolution: int) -> Path:
    background, fit = recipe()
    colour = "".join(f"{c:02x}" for c in background)
    return runs_dir() / "datasets" / snapshot.content_hash / f"{resolution}px-{fit}-{colour}.npy"


def _atomic_save_npy(array: np.ndarray, path: Path) -> None:
    write_atomically(path, lambda fh: np.save(fh, array))


def prepared_images(snapshot: DatasetSnapshot, *, resolution: int) -> np.ndarray:
    """uint8 [N, 3, res, res] in the order of ``snapshot.items``, from the cache when it is there."""
    path = cache_path(snapshot, resolution=resolution)
    if path.exists():
        array = np.load(path)
        if array.shape == (len(snapshot.items), 3, resolution, resolution) and array.dtype == np.uint8:
            return array
    background, fit = recipe()
    pixels = []
    for version in snapshot_versions(snapshot):
        with open_version(version) as image:
            pixels.append(to_square(image, resolution=resolution, background=background, fit=fit))
    array = np.ascontiguousarray(np.stack(pixels).transpose(0, 3, 1, 2))
    _atomic_save_npy(array, path)
    return array
