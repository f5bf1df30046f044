"""The rendition engine: the spec grammar and the image operations, free of Django.

The dam app's Rendition model and service call ``parse_spec``/``canonicalise`` to validate a request
and build its cache key, and ``render`` to make the bytes.
"""

from dam.renditions.exceptions import InvalidRenditionSpec, RenditionTooLarge
from dam.renditions.operations import DEFAULT_LIMITS, FocalPoint, RenditionLimits
from dam.renditions.render import RenderedImage, render
from dam.renditions.spec import RenditionSpec, canonicalise, parse_spec

# Renditions worth making in the ingest worker, so the first page view does not wait: the admin
# listing thumbnail, the card image a CMS most often asks for, and a preview for the detail page.
DEFAULT_PREWARM_SPECS: tuple[str, ...] = (
    "max-165x165|format-webp",
    "fill-300x200|format-webp",
    "max-800x800|format-webp",
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PREWARM_SPECS",
    "FocalPoint",
    "InvalidRenditionSpec",
    "RenderedImage",
    "RenditionLimits",
    "RenditionSpec",
    "RenditionTooLarge",
    "canonicalise",
    "parse_spec",
    "render",
]
