"""A small dominant-colour palette for search facets and the generative palette check."""

from __future__ import annotations

import numpy as np
from PIL import Image

MAX_COLOURS = 6
_OPAQUE = 128  # pixels more transparent than this do not count towards the palette


def dominant_palette(image: Image.Image, *, colours: int = MAX_COLOURS) -> list[dict]:
    """Up to ``colours`` entries {"hex": "#rrggbb", "weight": share of opaque pixels}, heaviest first.

    Expects a thumbnail: the cost is linear in pixels.
    """
    rgba = np.asarray(image.convert("RGBA"))
    opaque = rgba[rgba[..., 3] >= _OPAQUE][:, :3]
    if opaque.size == 0:
        return []
    strip = Image.fromarray(np.ascontiguousarray(opaque.reshape(1, -1, 3)), "RGB")
    quantised = strip.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    weights: dict[str, int] = {}
    for count, index in quantised.getcolors(maxcolors=256) or []:
        r, g, b = palette[index * 3:index * 3 + 3]
        key = f"#{r:02x}{g:02x}{b:02x}"
        weights[key] = weights.get(key, 0) + count
    total = sum(weights.values())
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"hex": hex_, "weight": round(count / total, 4)} for hex_, count in ranked]
