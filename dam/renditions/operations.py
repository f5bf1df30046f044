"""The rendition operations: one class per spec word, kept in a registry.

An operation is parsed from its ``-``-separated arguments, validates every one of them, and can write
itself back in canonical form (the cache key is built from these). Geometry operations only *plan*:
given the (EXIF-oriented) source size and an optional focal point they return which region of the
source to read and the output size. Nothing here touches pixels, so a plan can be checked against
the limits before any memory is allocated; ``render`` executes it.

Upscaling: ``original``, ``width``, ``height``, ``max``, ``min`` and ``fill`` never enlarge the
source; a request bigger than the source yields the source size (``fill`` then keeps the requested
aspect ratio at the largest size the source allows). Only ``scale-P`` with P > 100 enlarges, because
that is what it asks for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Self

from dam.renditions.exceptions import InvalidRenditionSpec, RenditionTooLarge

_INT_RE = re.compile(r"[0-9]{1,9}")
_SIZE_RE = re.compile(r"([0-9]{1,9})x([0-9]{1,9})")
_HEX_RE = re.compile(r"[0-9a-fA-F]{6}|[0-9a-fA-F]{3}")

MAX_SCALE_PERCENT = 1000


@dataclass(frozen=True)
class RenditionLimits:
    """The largest rendition allowed; both bounds hold for every spec."""

    max_dimension: int = 8_000
    max_pixels: int = 40_000_000


DEFAULT_LIMITS = RenditionLimits()


@dataclass(frozen=True)
class OutputFormat:
    name: str
    pillow_name: str
    mime: str
    ext: str
    supports_alpha: bool
    lossy: bool
    default_quality: int | None


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("jpeg", "JPEG", "image/jpeg", "jpg", False, True, 85),
        OutputFormat("png", "PNG", "image/png", "png", True, False, None),
        OutputFormat("webp", "WEBP", "image/webp", "webp", True, True, 80),
        OutputFormat("avif", "AVIF", "image/avif", "avif", True, True, 50),
    )
}
_FORMAT_ALIASES = {"jpg": "jpeg"}


@dataclass(frozen=True)
class FocalPoint:
    """The subject of an image: centre (x, y) and size, in pixels of the EXIF-oriented source."""

    x: float
    y: float
    width: float = 0.0
    height: float = 0.0

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"focal point {self!r}: width and height must not be negative")

    @classmethod
    def coerce(cls, value: FocalPoint | tuple[float, ...] | None) -> FocalPoint | None:
        if value is None or isinstance(value, FocalPoint):
            return value
        return cls(*value)


@dataclass(frozen=True)
class Plan:
    """Read ``box`` (left, top, right, bottom; float source pixels) and resample it to ``size``."""

    box: tuple[float, float, float, float]
    size: tuple[int, int]


class Operation:
    name: ClassVar[str]
    # Operations of one kind may appear once per spec; kinds also fix the canonical order.
    kind: ClassVar[str]
    usage: ClassVar[str]

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        raise NotImplementedError

    def canonical(self) -> str:
        raise NotImplementedError


class GeometryOperation(Operation):
    uses_focal_point = False
    kind = "geometry"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        raise NotImplementedError


OPERATIONS: dict[str, type[Operation]] = {}


def register(cls: type[Operation]) -> type[Operation]:
    OPERATIONS[cls.name] = cls
    return cls


def _bad(part: str, reason: str, usage: str) -> InvalidRenditionSpec:
    return InvalidRenditionSpec(f"'{part}': {reason} (expected {usage})", code="invalid_argument", part=part)


def _expect_args(args: tuple[str, ...], count: int, *, part: str, usage: str) -> None:
    if len(args) != count:
        raise _bad(part, f"takes {count} argument(s), got {len(args)}", usage)


def _parse_int(text: str, *, low: int, high: int, what: str, part: str, usage: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise _bad(part, f"{what} {text!r} is not a whole number", usage)
    value = int(text)
    if not low <= value <= high:
        raise _bad(part, f"{what} {value} is outside {low}..{high}", usage)
    return value


def _parse_dimension(text: str, *, what: str, part: str, usage: str, limits: RenditionLimits) -> int:
    if _INT_RE.fullmatch(text) and int(text) > limits.max_dimension:
        # A distinct error class: the request is well formed but refused by policy.
        raise RenditionTooLarge(
            f"'{part}': {what} {int(text)} px exceeds the {limits.max_dimension} px limit", part=part
        )
    return _parse_int(text, low=1, high=limits.max_dimension, what=what, part=part, usage=usage)


def _parse_size(text: str, *, part: str, usage: str, limits: RenditionLimits) -> tuple[int, int]:
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise _bad(part, f"size {text!r} is not WIDTHxHEIGHT", usage)
    width = _parse_dimension(match[1], what="width", part=part, usage=usage, limits=limits)
    height = _parse_dimension(match[2], what="height", part=part, usage=usage, limits=limits)
    return width, height


def _scaled(size: tuple[int, int], factor: float) -> Plan:
    width, height = size
    if factor == 1:
        return Plan((0, 0, width, height), size)
    out = (max(1, round(width * factor)), max(1, round(height * factor)))
    return Plan((0, 0, width, height), out)


@register
@dataclass(frozen=True)
class Original(GeometryOperation):
    name = "original"
    usage = "original"

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 0, part=part, usage=cls.usage)
        return cls()

    def canonical(self) -> str:
        return self.name

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        return _scaled(size, 1)


@dataclass(frozen=True)
class _OneDimension(GeometryOperation):
    value: int

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        return cls(_parse_dimension(args[0], what=cls.name, part=part, usage=cls.usage, limits=limits))

    def canonical(self) -> str:
        return f"{self.name}-{self.value}"


@register
@dataclass(frozen=True)
class Width(_OneDimension):
    name = "width"
    usage = "width-N"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        return _scaled(size, min(self.value / size[0], 1))


@register
@dataclass(frozen=True)
class Height(_OneDimension):
    name = "height"
    usage = "height-N"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        return _scaled(size, min(self.value / size[1], 1))


@dataclass(frozen=True)
class _Box(GeometryOperation):
    width: int
    height: int
    # How the box constrains the image: min() fits inside it, max() covers it.
    pick: ClassVar[Callable[[float, float], float]]

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        return cls(*_parse_size(args[0], part=part, usage=cls.usage, limits=limits))

    def canonical(self) -> str:
        return f"{self.name}-{self.width}x{self.height}"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        factor = type(self).pick(self.width / size[0], self.height / size[1])
        return _scaled(size, min(factor, 1))


@register
@dataclass(frozen=True)
class Max(_Box):
    """Fit inside WxH."""

    name = "max"
    usage = "max-WIDTHxHEIGHT"
    pick = min


@register
@dataclass(frozen=True)
class Min(_Box):
    """Cover WxH: both sides at least as large as the box (the source allowing)."""

    name = "min"
    usage = "min-WIDTHxHEIGHT"
    pick = max


@register
@dataclass(frozen=True)
class Scale(GeometryOperation):
    name = "scale"
    usage = f"scale-PERCENT, 1..{MAX_SCALE_PERCENT}"
    percent: int

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        return cls(
            _parse_int(args[0], low=1, high=MAX_SCALE_PERCENT, what="percent", part=part, usage=cls.usage)
        )

    def canonical(self) -> str:
        return f"{self.name}-{self.percent}"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        return _scaled(size, self.percent / 100)


@register
@dataclass(frozen=True)
class Fill(GeometryOperation):
    """Crop to the WxH aspect ratio around the focal point, then resize to WxH.

    ``cN`` (crop closeness, 0..100) zooms the crop from the largest one the source allows (0) towards
    the tightest one that still holds the whole focal area (100). It is ignored without a focal point
    (there is no subject to zoom in on) and never zooms past 1:1, so the output is never upscaled.
    """

    name = "fill"
    uses_focal_point = True
    usage = "fill-WIDTHxHEIGHT or fill-WIDTHxHEIGHT-cN with N in 0..100"
    width: int
    height: int
    closeness: int = 0

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        if len(args) not in (1, 2):
            raise _bad(part, f"takes 1 or 2 arguments, got {len(args)}", cls.usage)
        width, height = _parse_size(args[0], part=part, usage=cls.usage, limits=limits)
        if width * height > limits.max_pixels:
            raise RenditionTooLarge(
                f"'{part}': {width}x{height} is {width * height:,} px, over the {limits.max_pixels:,} px limit",
                part=part,
            )
        closeness = 0
        if len(args) == 2:
            if not args[1].startswith("c"):
                raise _bad(part, f"unknown option {args[1]!r}", cls.usage)
            closeness = _parse_int(
                args[1][1:], low=0, high=100, what="crop closeness", part=part, usage=cls.usage
            )
        return cls(width, height, closeness)

    def canonical(self) -> str:
        suffix = f"-c{self.closeness}" if self.closeness else ""
        return f"{self.name}-{self.width}x{self.height}{suffix}"

    def plan(self, *, size: tuple[int, int], focal: FocalPoint | None) -> Plan:
        src_w, src_h = size
        # Crops have the target's aspect ratio: (width * s, height * s); s = 1 means no resampling.
        largest = min(src_w / self.width, src_h / self.height)
        scale = largest
        if focal is not None and self.closeness:
            tightest = min(max(focal.width / self.width, focal.height / self.height, 1.0), largest)
            scale = largest - (largest - tightest) * self.closeness / 100
        crop_w, crop_h = self.width * scale, self.height * scale
        centre_x, centre_y = (focal.x, focal.y) if focal is not None else (src_w / 2, src_h / 2)
        left = min(max(centre_x - crop_w / 2, 0.0), src_w - crop_w)
        top = min(max(centre_y - crop_h / 2, 0.0), src_h - crop_h)
        if scale >= 1:
            out = (self.width, self.height)
        else:
            out = (max(1, round(crop_w)), max(1, round(crop_h)))
        return Plan((left, top, left + crop_w, top + crop_h), out)


@register
@dataclass(frozen=True)
class Format(Operation):
    name = "format"
    kind = "format"
    usage = "format-" + "|".join(OUTPUT_FORMATS)
    value: str

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        value = _FORMAT_ALIASES.get(args[0], args[0])
        if value not in OUTPUT_FORMATS:
            raise _bad(part, f"unknown format {args[0]!r}", cls.usage)
        return cls(value)

    def canonical(self) -> str:
        return f"{self.name}-{self.value}"


@register
@dataclass(frozen=True)
class Quality(Operation):
    name = "quality"
    kind = "quality"
    usage = "quality-N with N in 1..100"
    value: int

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        return cls(_parse_int(args[0], low=1, high=100, what="quality", part=part, usage=cls.usage))

    def canonical(self) -> str:
        return f"{self.name}-{self.value}"


@register
@dataclass(frozen=True)
class BgColor(Operation):
    """Flatten transparency onto this colour (JPEG output flattens onto white without it)."""

    name = "bgcolor"
    kind = "bgcolor"
    usage = "bgcolor-RRGGBB or bgcolor-RGB (hex)"
    value: str

    @classmethod
    def parse(cls, args: tuple[str, ...], *, part: str, limits: RenditionLimits) -> Self:
        _expect_args(args, 1, part=part, usage=cls.usage)
        text = args[0]
        if not _HEX_RE.fullmatch(text):
            raise _bad(part, f"colour {text!r} is not hexadecimal RGB", cls.usage)
        if len(text) == 3:
            text = "".join(c * 2 for c in text)
        return cls(text.lower())

    def canonical(self) -> str:
        return f"{self.name}-{self.value}"

    @property
    def rgb(self) -> tuple[int, int, int]:
        return int(self.value[0:2], 16), int(self.value[2:4], 16), int(self.value[4:6], 16)
