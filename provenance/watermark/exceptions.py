"""Errors raised by the watermark package (small classes, clear messages)."""

from __future__ import annotations


class WatermarkError(ValueError):
    """Base class for every watermark error."""


class ImageTooSmallError(WatermarkError):
    """The image is below the minimum size that can carry the watermark."""

    def __init__(self, *, size: tuple[int, int], minimum: int) -> None:
        super().__init__(
            f"image of {size[0]}x{size[1]} px is too small to watermark: "
            f"the short side must be at least {minimum} px"
        )


class UnsupportedModeError(WatermarkError):
    """The image mode cannot be watermarked (only RGB, RGBA, L, LA and P are)."""

    def __init__(self, *, mode: str) -> None:
        super().__init__(
            f"image mode {mode!r} cannot be watermarked: convert it to RGB, RGBA or L first"
        )


class InvalidPayloadError(WatermarkError):
    """The payload does not fit the watermark's fixed payload width."""

    def __init__(self, *, payload: object, reason: str) -> None:
        super().__init__(f"invalid watermark payload {payload!r}: {reason}")


class InvalidStrengthError(WatermarkError):
    """The embedding strength is not a positive finite number."""

    def __init__(self, *, strength: object) -> None:
        super().__init__(f"invalid watermark strength {strength!r}: must be a number in (0, 4]")
