"""Make one rendition: plan, check limits, decode as little as possible, resample, encode.

Choices a caller should know:

* The plan is checked against the limits from the source's header size alone, so an oversized
  request fails with ``RenditionTooLarge`` before any pixel is decoded or allocated.
* A JPEG source that is being reduced a lot is decoded at 1/2, 1/4 or 1/8 scale (``Image.draft``,
  DCT scaling), leaving at least a 2x margin for the final Lanczos pass. ``render`` therefore changes
  an *unloaded* image passed to it; pass a freshly opened one.
* EXIF orientation is applied first; focal points are in the oriented image's pixels.
* Animated sources (GIF, APNG, WebP) yield their first frame: a rendition is a still image.
* Colour: a source with an ICC profile other than sRGB is converted to sRGB (CMYK included) and the
  output carries no profile, since untagged web images are read as sRGB. A profile littlecms cannot
  read is dropped and the pixels are taken as sRGB.
* Metadata (EXIF, XMP, comments, text chunks) is never copied to the output.
* Without ``format-``, the output keeps the source format when it is one of jpeg/png/webp/avif,
  GIF becomes PNG, and anything else (TIFF, BMP, ...) becomes PNG if it has transparency, else JPEG. ``quality-`` is ignored when that
  implicit format is PNG.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageOps

from dam.renditions.exceptions import RenditionTooLarge
from dam.renditions.operations import (
    DEFAULT_LIMITS,
    OUTPUT_FORMATS,
    FocalPoint,
    OutputFormat,
    Plan,
    RenditionLimits,
)
from dam.renditions.spec import RenditionSpec, coerce_spec

# Measured on this project's 2-core CPU (bench/bench_renditions.py, 1200x800 photo-like image):
# WebP method 4 takes about twice as long as method 2 (370 vs 180 ms) for ~6% fewer bytes. libavif's
# default speed 6 takes 1.6-2.2 s; speed 9 takes 0.2-0.3 s at the same PSNR for ~15% more bytes,
# and speed 8 is slower and larger than 9. At speed 9, AVIF quality 50 matches WebP quality 80's
# PSNR (36.5 dB) with 40% of its bytes.
WEBP_METHOD = 2
AVIF_SPEED = 9
# JPEG DCT scaling leaves at least this factor for the Lanczos pass, which keeps edges crisp.
DRAFT_MARGIN = 2
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
# GIFs are flat-colour graphics that JPEG would smear; MPO is a multi-picture JPEG.
_SOURCE_FORMAT_ALIASES = {"jpg": "jpeg", "mpo": "jpeg", "gif": "png"}
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    mime: str
    ext: str
    width: int
    height: int


def render(
    *,
    image: Image.Image,
    spec: RenditionSpec | str,
    focal_point: FocalPoint | tuple[float, ...] | None = None,
    source_format: str,
    limits: RenditionLimits = DEFAULT_LIMITS,
) -> RenderedImage:
    """Render ``image`` as ``spec`` describes; ``source_format`` is e.g. "jpeg" or "image/png"."""
    spec = coerce_spec(spec, limits=limits)
    focal = FocalPoint.coerce(focal_point)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    width, height = image.size
    oriented = (height, width) if orientation in _TRANSPOSING_ORIENTATIONS else (width, height)
    plan = spec.geometry.plan(size=oriented, focal=focal)
    _check_limits(plan, spec=spec, limits=limits)
    output = _output_format(spec, source_format=source_format, image=image)

    _draft_jpeg(image, plan=plan)
    icc = image.info.get("icc_profile")
    pixels = ImageOps.exif_transpose(image) if orientation != 1 else image
    pixels, icc = _to_working_mode(pixels, icc=icc)
    pixels = _resample(pixels, plan=plan, oriented=oriented)
    pixels = _to_srgb(pixels, icc=icc)
    pixels = _fit_alpha(pixels, spec=spec, output=output)
    data = _encode(pixels, spec=spec, output=output)
    return RenderedImage(data=data, mime=output.mime, ext=output.ext, width=pixels.width, height=pixels.height)


def _check_limits(plan: Plan, *, spec: RenditionSpec, limits: RenditionLimits) -> None:
    width, height = plan.size
    if max(width, height) > limits.max_dimension:
        raise RenditionTooLarge(
            f"rendition '{spec.canonical}' would be {width}x{height} px; "
            f"each side is limited to {limits.max_dimension} px"
        )
    if width * height > limits.max_pixels:
        raise RenditionTooLarge(
            f"rendition '{spec.canonical}' would be {width}x{height} = {width * height:,} px, "
            f"over the {limits.max_pixels:,} px limit"
        )


def _output_format(spec: RenditionSpec, *, source_format: str, image: Image.Image) -> OutputFormat:
    if spec.format is not None:
        return OUTPUT_FORMATS[spec.format.value]
    key = source_format.lower().removeprefix("image/")
    key = _SOURCE_FORMAT_ALIASES.get(key, key)
    if key in OUTPUT_FORMATS:
        return OUTPUT_FORMATS[key]
    return OUTPUT_FORMATS["png" if image.has_transparency_data else "jpeg"]


def _draft_jpeg(image: Image.Image, *, plan: Plan) -> None:
    if image.format not in ("JPEG", "MPO"):
        return
    left, top, right, bottom = plan.box
    reduction = min((right - left) / plan.size[0], (bottom - top) / plan.size[1])
    if reduction < 2 * DRAFT_MARGIN:
        return
    # draft() picks the smallest DCT scale that still yields at least the requested size; it is a
    # no-op on an image that is already loaded. Orientation does not matter: the factor is uniform.
    factor = reduction / DRAFT_MARGIN
    image.draft(None, (math.ceil(image.width / factor), math.ceil(image.height / factor)))


def _to_working_mode(image: Image.Image, *, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Reduce every mode to L, RGB or RGBA so that resampling and every encoder accept it."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image, icc
    if mode == "CMYK":
        # CMYK pixels are meaningless without their profile; convert now, before resampling.
        profile = _read_profile(icc)
        if profile is not None:
            try:
                return ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB"), None
            except ImageCms.PyCMSError:
                pass
        return image.convert("RGB"), None
    if mode.startswith("I;16") or mode == "I":
        # 16-bit samples: keep the top 8 bits (Pillow's own convert clips instead of scaling).
        samples = np.asarray(image).astype(np.int64) >> 8
        return Image.fromarray(np.clip(samples, 0, 255).astype(np.uint8)), icc
    if mode in ("1", "F"):
        return image.convert("L"), icc
    if mode == "La":
        # Pillow converts premultiplied grey only to its straight form.
        image = image.convert("LA")
    if image.mode in ("P", "PA", "LA", "RGBa"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB"), icc
    return image.convert("RGB"), icc


def _resample(image: Image.Image, *, plan: Plan, oriented: tuple[int, int]) -> Image.Image:
    # A JPEG draft decoded the source smaller than its header size: map the box onto it.
    scale_x, scale_y = image.width / oriented[0], image.height / oriented[1]
    left, top, right, bottom = plan.box
    box = (left * scale_x, top * scale_y, right * scale_x, bottom * scale_y)
    if plan.size == image.size and box == (0, 0, image.width, image.height):
        return image.copy()
    premultiplied = image.mode == "RGBA"
    if premultiplied:
        # Without premultiplying, fully transparent pixels bleed their colour into the edges.
        image = image.convert("RGBa")
    result = image.resize(plan.size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    return result.convert("RGBA") if premultiplied else result


def _read_profile(icc: bytes | None) -> ImageCms.ImageCmsProfile | None:
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError):
        return None


def _to_srgb(image: Image.Image, *, icc: bytes | None) -> Image.Image:
    profile = _read_profile(icc)
    if profile is None or "srgb" in ImageCms.getProfileDescription(profile).lower():
        return image
    output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        return ImageCms.profileToProfile(image, profile, _SRGB, outputMode=output_mode)
    except ImageCms.PyCMSError:
        # E.g. a grey profile on colour pixels: the profile does not describe them, so ignore it.
        return image


def _fit_alpha(image: Image.Image, *, spec: RenditionSpec, output: OutputFormat) -> Image.Image:
    if image.mode != "RGBA":
        return image
    alpha = image.getchannel("A")
    if alpha.getextrema() == (255, 255):
        return image.convert("RGB")
    if spec.bgcolor is None and output.supports_alpha:
        return image
    colour = spec.bgcolor.rgb if spec.bgcolor is not None else (255, 255, 255)
    flat = Image.new("RGB", image.size, colour)
    flat.paste(image.convert("RGB"), mask=alpha)
    return flat


def _encode(image: Image.Image, *, spec: RenditionSpec, output: OutputFormat) -> bytes:
    # Encoders pick up ICC and EXIF from .info; nothing from the source may leak into the output.
    image.info = {}
    quality = spec.quality.value if spec.quality is not None else output.default_quality
    options: dict[str, object] = {}
    if output.name == "jpeg":
        options = {"quality": quality, "optimize": True, "progressive": True}
    elif output.name == "webp":
        options = {"quality": quality, "method": WEBP_METHOD}
    elif output.name == "avif":
        options = {"quality": quality, "speed": AVIF_SPEED}
    elif output.name == "png":
        options = {"compress_level": 6}
    buffer = io.BytesIO()
    image.save(buffer, format=output.pillow_name, **options)
    return buffer.getvalue()
