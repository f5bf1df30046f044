"""SVG: strict parsing, sanitising to a static picture, and rasterising with resvg.

Rules (the stored file is the re-serialised, sanitised tree, never the upload):

* parsed by defusedxml; any entity declaration (XXE, "billion laughs") refuses the file with
  "svg_unsafe" - entities are never expanded. A bare ``<!DOCTYPE svg PUBLIC ...>`` is tolerated and
  dropped, as are comments and processing instructions (``<?xml-stylesheet?>``);
* removed: ``<script>`` in any namespace, ``<foreignObject>`` and other embedding elements, every
  element of the XHTML/MathML/XSLT/XInclude namespaces, ``on*`` attributes, ``xml:base``, any attribute
  value with ``javascript:``, animations that target ``href`` or ``on*``, every ``href`` that is not a
  same-document ``#id`` or a ``data:image/png|jpeg|webp`` URI, ``@import`` and external ``url(...)``
  in CSS (CSS containing backslash escapes is dropped whole: escapes can spell ``url`` and ``@import``);
* outside ``<metadata>``, only SVG, Inkscape and Sodipodi elements are kept (editor-private
  elements of other vendors are dropped as notes, not as unsafe content).
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET

import resvg_py
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from PIL import Image

from dam.ingest.errors import RejectedFile
from dam.ingest.limits import IngestLimits

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_KEPT_NS = {SVG_NS, "http://www.inkscape.org/namespaces/inkscape", "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"}
_ACTIVE_NS = {"http://www.w3.org/1999/xhtml", "http://www.w3.org/1998/Math/MathML",
              "http://www.w3.org/1999/XSL/Transform", "http://www.w3.org/2001/XInclude"}
_ACTIVE_SVG_ELEMENTS = {"foreignObject", "handler", "listener", "iframe", "embed", "object", "video", "audio",
                        "canvas"}
_ANIMATIONS = {"set", "animate", "animateColor"}
_MAX_DEPTH = 200  # ElementTree serialises recursively; far below Python's recursion limit
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=\s]*", re.I)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.I)
_LENGTH = re.compile(r"^\s*([+]?\d*\.?\d+(?:e[+-]?\d+)?)\s*(px|pt|pc|mm|cm|in|em|ex)?\s*$", re.I)
_UNIT_PX = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0,
            "em": 16.0, "ex": 8.0}
DEFAULT_SIZE = 100.0  # what resvg assumes when an SVG declares neither size nor viewBox

# Serialise SVG as the default namespace (ElementTree's default_namespace= refuses unqualified
# attributes, which every SVG has) and XLink under its usual prefix.
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


class SvgRenderError(ValueError):
    """resvg could not render the SVG, or the requested raster is too large."""


def looks_like_svg(data: bytes) -> bool:
    head = data[:65536].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"<svg" in head


def sanitise_svg(*, name: str, data: bytes, limits: IngestLimits) -> tuple[bytes, list[str], tuple[float, float]]:
    """Return (sanitised SVG bytes, warnings, intrinsic (width, height) in px) or raise RejectedFile."""
    if len(data) > limits.max_svg_bytes:
        raise RejectedFile(name=name, code="too_large",
                           reason=f"SVG of {len(data)} bytes exceeds the {limits.max_svg_bytes}-byte limit")
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise RejectedFile(name=name, code="svg_unsafe",
                           reason=f"SVG declares XML entities or external references ({type(exc).__name__}); "
                                  "they are never expanded") from exc
    except ET.ParseError as exc:
        raise RejectedFile(name=name, code="svg_invalid", reason=f"SVG is not well-formed XML ({exc})") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise RejectedFile(name=name, code="svg_invalid",
                           reason=f"root element is {root.tag!r}, not an <svg> in the SVG namespace")
    unsafe: list[str] = []
    notes: list[str] = []
    _clean_attributes(root, unsafe)
    _clean_children(root, name=name, in_metadata=False, depth=0, unsafe=unsafe, notes=notes)
    if unsafe and limits.reject_unsafe_svg:
        raise RejectedFile(name=name, code="svg_unsafe", reason="SVG has active content: " + "; ".join(unsafe[:5]))
    _check_expansion(root, name=name, limit=limits.max_svg_elements)
    size = intrinsic_size(root)
    if size[0] * size[1] > limits.max_pixels:
        raise RejectedFile(name=name, code="too_many_pixels",
                           reason=f"SVG declares {size[0]:.0f}x{size[1]:.0f} px, over the {limits.max_pixels}-pixel limit")
    body = ET.tostring(root, encoding="unicode")
    clean = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")
    return clean, [f"SVG sanitised: {item}" for item in unsafe + notes], size


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return None, tag


def _refusal(child: ET.Element, *, in_metadata: bool) -> tuple[str, bool] | None:
    """(why the element goes, whether that is unsafe content) or None to keep it."""
    ns, local = _split(child.tag)
    if local.lower() == "script":
        return "removed <script> element", True
    if ns in _ACTIVE_NS:
        return f"removed <{local}> element of namespace {ns}", True
    if ns == SVG_NS and local in _ACTIVE_SVG_ELEMENTS:
        return f"removed <{local}> element", True
    if ns == SVG_NS and local in _ANIMATIONS:
        target = (child.get("attributeName") or "").strip().lower()
        if target.endswith("href") or target.startswith("on"):
            return f"removed <{local}> animating {target!r}", True
    if ns is None:
        return f"removed <{local}> element outside any namespace", False
    if ns not in _KEPT_NS and not in_metadata:
        return f"removed <{local}> element of namespace {ns}", False
    return None


def _clean_children(el: ET.Element, *, name: str, in_metadata: bool, depth: int,
                    unsafe: list[str], notes: list[str]) -> None:
    if depth > _MAX_DEPTH:
        raise RejectedFile(name=name, code="svg_unsafe", reason=f"SVG elements nest deeper than {_MAX_DEPTH} levels")
    for child in list(el):
        refusal = _refusal(child, in_metadata=in_metadata)
        if refusal:
            el.remove(child)
            (unsafe if refusal[1] else notes).append(refusal[0])
            continue
        ns, local = _split(child.tag)
        _clean_attributes(child, unsafe)
        if ns == SVG_NS and local == "style" and child.text:
            child.text, changed = clean_css(child.text)
            if changed:
                unsafe.append("removed external references or @import from a <style> element")
        _clean_children(child, name=name, in_metadata=in_metadata or (ns == SVG_NS and local == "metadata"),
                        depth=depth + 1, unsafe=unsafe, notes=notes)


def _clean_attributes(el: ET.Element, unsafe: list[str]) -> None:
    element = _split(el.tag)[1]
    for key, value in list(el.attrib.items()):
        ns, local = _split(key)
        lowered = re.sub(r"[\s\x00-\x1f]", "", value).lower()
        if local.lower().startswith("on"):
            why = f"removed {local} attribute from <{element}>"
        elif local == "href" and ns in (None, XLINK_NS) and not is_safe_reference(value):
            why = f"removed external reference {local}={value[:80]!r} from <{element}>"
        elif ns == XML_NS and local == "base":
            why = f"removed xml:base from <{element}>"
        elif "javascript:" in lowered:
            why = f"removed {local} attribute with javascript: from <{element}>"
        elif "url(" in lowered or local == "style":
            cleaned, changed = clean_css(value)
            if changed:
                el.set(key, cleaned)
                unsafe.append(f"removed external url() from the {local} attribute of <{element}>")
            continue
        else:
            continue
        del el.attrib[key]
        unsafe.append(why)


def is_safe_reference(value: str) -> bool:
    """A same-document fragment or an inline PNG/JPEG/WebP: nothing that reaches outside the file."""
    value = value.strip()
    if value.startswith("#"):
        return re.fullmatch(r"#[\w.:-]+", value) is not None
    return _DATA_IMAGE.fullmatch(value) is not None


def clean_css(text: str) -> tuple[str, bool]:
    """CSS with @import and non-local url(...) removed; (new text, whether anything changed)."""
    if "\\" in text or "expression(" in text.lower():
        return "", True
    cleaned = _CSS_IMPORT.sub("", text)
    cleaned = _CSS_URL.sub(lambda m: m.group(0) if is_safe_reference(m.group(2)) else "none", cleaned)
    return cleaned, cleaned != text


def _check_expansion(root: ET.Element, *, name: str, limit: int) -> None:
    # resvg instantiates every <use> (and other href="#id" references) as a copy of its target, so
    # a few nested references multiply into billions of elements: count them as the renderer would.
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(el: ET.Element) -> int:
        key = id(el)
        if key in memo:
            return memo[key]
        if key in active:
            raise RejectedFile(name=name, code="svg_unsafe", reason="SVG references form a cycle")
        active.add(key)
        total = 1 + sum(size(child) for child in el)
        href = el.get("href") or el.get(f"{{{XLINK_NS}}}href") or ""
        target = by_id.get(href[1:]) if href.startswith("#") else None
        if target is not None:
            total += size(target)
        if total > limit:
            raise RejectedFile(name=name, code="svg_unsafe",
                               reason=f"SVG expands to more than {limit} elements once references are followed")
        active.discard(key)
        memo[key] = total
        return total

    try:
        size(root)
    except RecursionError as exc:
        raise RejectedFile(name=name, code="svg_unsafe", reason="SVG references nest too deeply") from exc


def _length(value: str | None) -> float | None:
    match = _LENGTH.match(value or "")
    if not match:
        return None
    px = float(match.group(1)) * _UNIT_PX[match.group(2).lower() if match.group(2) else None]
    return px if math.isfinite(px) and px > 0 else None


def intrinsic_size(root: ET.Element) -> tuple[float, float]:
    """The size, in CSS px, a renderer gives an SVG without instructions (width/height, else viewBox)."""
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = [float(v) for v in re.split(r"[\s,]+", (root.get("viewBox") or "").strip()) if v]
    if len(box) == 4 and box[2] > 0 and box[3] > 0 and all(math.isfinite(v) for v in box):
        aspect = box[3] / box[2]
        if width and not height:
            height = width * aspect
        elif height and not width:
            width = height / aspect
        elif not width and not height:
            width, height = box[2], box[3]
    return width or DEFAULT_SIZE, height or DEFAULT_SIZE


def rasterise_svg(svg_bytes: bytes, *, width: int | None = None, height: int | None = None,
                  max_pixels: int = IngestLimits.max_pixels) -> Image.Image:
    """Render (already sanitised) SVG bytes to an RGBA image.

    With neither size the intrinsic size is used; with one, the other follows the aspect ratio; with
    both, the picture is fitted inside the box keeping its aspect ratio.
    """
    root = SafeET.fromstring(svg_bytes, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    own_w, own_h = intrinsic_size(root)
    out_w = width or (own_w * height / own_h if height else own_w)
    out_h = height or (own_h * width / own_w if width else own_h)
    if out_w * out_h > max_pixels:
        raise SvgRenderError(f"a {out_w:.0f}x{out_h:.0f} raster exceeds the {max_pixels}-pixel limit")
    try:
        png = resvg_py.svg_to_bytes(svg_string=svg_bytes.decode("utf-8"), width=width, height=height)
    except ValueError as exc:
        raise SvgRenderError(f"resvg could not render the SVG: {exc}") from exc
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")
