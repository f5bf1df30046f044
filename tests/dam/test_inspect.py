"""inspect_file on good files of every allowed type and on each kind of bad input, all built in memory."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import resource
import struct
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageDraw

from dam.ingest import IngestLimits, RejectedFile, SvgRenderError, hamming, inspect_file, rasterise_svg

LIMITS = IngestLimits()


def _picture(size=(96, 64), seed=0) -> Image.Image:
    """A structured picture (gradient, shapes, a little noise) so perceptual hashes mean something."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.full_like(x, 90)], -1).astype(np.int16)
    arr += rng.integers(-6, 7, arr.shape)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((w * 0.1, h * 0.2, w * 0.45, h * 0.8), fill=(20, 20, 200))
    draw.rectangle((w * 0.6, h * 0.1, w * 0.9, h * 0.5), fill=(240, 240, 30))
    return im


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _inspect(data: bytes, name: str = "file.bin", limits: IngestLimits = LIMITS):
    return inspect_file(name=name, fileobj=io.BytesIO(data), limits=limits)


def _rejected(data: bytes, name: str = "file.bin", limits: IngestLimits = LIMITS) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        _inspect(data, name, limits)
    assert info.value.name == name
    assert str(info.value) == f"{name}: {info.value.reason}"
    return info.value


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


# --- good files -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "mime", "ext", "kw"), [
    ("JPEG", "image/jpeg", "jpg", {"quality": 90}),
    ("PNG", "image/png", "png", {}),
    ("WEBP", "image/webp", "webp", {"quality": 90}),
    ("AVIF", "image/avif", "avif", {"quality": 90}),
    ("GIF", "image/gif", "gif", {}),
    ("TIFF", "image/tiff", "tif", {}),
])
def test_each_allowed_format_is_described(fmt, mime, ext, kw):
    im = _picture()
    data = _encode(im, fmt, **kw)
    result = _inspect(data, f"logo.{ext}")
    assert (result.mime, result.ext, result.width, result.height, result.frames) == (mime, ext, 96, 64, 1)
    assert result.data == data and result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert len(result.phash) == 16 and int(result.phash, 16) >= 0
    # Lossy or palette encodings of one picture stay perceptually the same picture.
    assert hamming(result.phash, _inspect(_encode(im, "PNG")).phash) <= 8
    assert 1 <= len(result.palette) <= 6
    assert abs(sum(p["weight"] for p in result.palette) - 1) < 0.01
    assert result.metadata["warnings"] == []
    json.dumps(result.metadata)


def test_near_duplicates_are_close_and_different_pictures_are_far():
    base = _picture((320, 240), seed=1)
    a = _inspect(_encode(base, "JPEG", quality=95)).phash
    b = _inspect(_encode(base.resize((200, 150)), "JPEG", quality=50)).phash
    other = _inspect(_encode(_picture((320, 240)).transpose(Image.Transpose.ROTATE_180), "JPEG")).phash
    assert hamming(a, b) <= 6
    assert hamming(a, other) >= 16


def test_hamming_refuses_malformed_hashes():
    assert hamming("0" * 16, "f" * 16) == 64
    with pytest.raises(ValueError, match="16 hex digits"):
        hamming("abc", "0" * 16)


def test_palette_reports_dominant_colours_and_ignores_transparency():
    im = Image.new("RGBA", (60, 40), (0, 0, 255, 255))
    im.paste((255, 0, 0, 255), (0, 0, 40, 40))  # 2/3 red, 1/3 blue
    im.paste((0, 255, 0, 0), (0, 0, 10, 10))  # transparent green must not count
    palette = _inspect(_encode(im, "PNG")).palette
    assert palette[0]["hex"] == "#ff0000" and palette[1]["hex"] == "#0000ff"
    assert palette[0]["weight"] == pytest.approx(1500 / 2300, abs=0.02)
    assert all(p["hex"] != "#00ff00" for p in palette)


def test_mode_icc_and_deep_greys():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with_icc = _inspect(_encode(_picture(), "JPEG", icc_profile=srgb))
    assert with_icc.has_icc and with_icc.mode == "RGB"
    assert not _inspect(_encode(_picture(), "JPEG")).has_icc
    deep = Image.frombytes("I;16", (64, 32), (np.arange(64 * 32, dtype="<u2") * 30).tobytes())
    result = _inspect(_encode(deep, "PNG"))
    assert result.mode.startswith("I") and result.palette[0]["hex"] != "#ffffff"


def test_animated_gif_counts_frames():
    frames = [Image.new("P", (8, 8), i % 4) for i in range(5)]
    for i, frame in enumerate(frames):
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
        frame.putpixel((i, i), (i + 1) % 4)
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    assert _inspect(data).frames == 5
    assert _rejected(data, limits=IngestLimits(max_frames=3)).code == "too_many_frames"


def test_multi_picture_jpeg_from_phones_is_a_jpeg():
    depth = _picture((48, 32), seed=5).convert("L").convert("RGB")
    data = _encode(_picture(), "MPO", save_all=True, append_images=[depth])
    result = _inspect(data, "portrait.jpg")
    assert (result.mime, result.frames, result.width) == ("image/jpeg", 2, 96)
    assert _rejected(data[:-200], "portrait.jpg").code == "truncated"
    assert _rejected(data + b"<script>x</script>", "portrait.jpg").code == "polyglot"


def test_extension_that_lies_is_a_warning_not_an_error():
    result = _inspect(_encode(_picture(), "PNG"), "photo.jpg")
    assert result.mime == "image/png" and result.ext == "png"
    assert any(".jpg" in w for w in result.metadata["warnings"])


# --- bad input: each one refused with a clear reason ------------------------------------------------

def test_zero_byte_file():
    assert _rejected(b"", "empty.jpg").code == "empty"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_files(fmt, keep):
    data = _encode(_picture((200, 150)), fmt)
    error = _rejected(data[: int(len(data) * keep)], f"cut.{fmt.lower()}")
    assert error.code == "truncated", error.reason
    assert "incomplete" in error.reason


def test_png_cut_inside_its_header_is_truncated_not_unknown():
    assert _rejected(_encode(_picture(), "PNG")[:20]).code == "truncated"


def test_file_larger_than_the_cap_is_refused_without_reading_it_all():
    class Endless(io.RawIOBase):
        served = 0

        def readable(self):
            return True

        def readinto(self, buf):
            buf[:] = b"\xff" * len(buf)
            self.served += len(buf)
            return len(buf)

    stream = Endless()
    with pytest.raises(RejectedFile) as info:
        inspect_file(name="huge.jpg", fileobj=stream, limits=IngestLimits(max_bytes=3_000_000))
    assert info.value.code == "too_large"
    assert stream.served <= 3_000_001


def test_renamed_executable():
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)
    error = _rejected(exe, "holiday.jpg")
    assert error.code == "mime_not_allowed" and "Windows executable" in error.reason


def test_unknown_bytes_and_disallowed_image_types():
    assert _rejected(bytes(range(256))).code == "mime_not_allowed"
    error = _rejected(_encode(_picture(), "BMP"), "scan.bmp")
    assert error.code == "mime_not_allowed" and "BMP" in error.reason


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "tail"), [
    ("JPEG", _zip_bytes()),
    ("JPEG", b"<html><script>alert(1)</script></html>"),
    ("PNG", b"MZ" + b"\x7fELF" + bytes(64)),
    ("GIF", b"<?php system($_GET['c']); ?>"),
    ("PNG", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
    ("TIFF", _zip_bytes()),
])
def test_polyglots_are_refused(fmt, tail):
    error = _rejected(_encode(_picture(), fmt) + tail, f"poly.{fmt.lower()}")
    assert error.code == "polyglot", error.reason


def test_a_little_encoder_padding_is_tolerated():
    assert _inspect(_encode(_picture(), "JPEG") + bytes(32)).mime == "image/jpeg"


def test_svg_looking_file_that_is_really_a_gif_is_not_taken_for_svg():
    fake = b"GIF89a" + b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert _rejected(fake, "x.svg").code in {"truncated", "corrupt"}


def _png_header_only(width: int, height: int) -> bytes:
    # A PNG that *declares* a huge size; its IDAT holds a few bytes. Nothing big is ever allocated.
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(64)))
            + _chunk(b"IEND", b""))


def test_png_bomb_30000_square_is_refused_before_decoding():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = _rejected(_png_header_only(30_000, 30_000), "bomb.png")
    assert error.code == "too_many_pixels"
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024


def test_our_pixel_limit_applies_below_pillows():
    error = _rejected(_png_header_only(2000, 2000), "big.png", IngestLimits(max_pixels=1_000_000))
    assert error.code == "too_many_pixels" and "2000x2000" in error.reason


def test_gif_with_thousands_of_frames():
    # Hand-written GIF of one-pixel frames (control extension + descriptor + 2 bytes of LZW data).
    frame = (b"\x21\xf9\x04\x00\x01\x00\x00\x00" + b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1)
             + b"\x00\x02\x02\x44\x01\x00")
    header = b"GIF89a" + struct.pack("<HH", 1, 1) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    assert _inspect(header + frame * 500 + b"\x3b").frames == 500
    error = _rejected(header + frame * 3000 + b"\x3b", "spinner.gif")
    assert error.code == "too_many_frames" and "1000" in error.reason


def _with_exif(im: Image.Image, tags: dict) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    return _encode(im, "JPEG", exif=exif, quality=92)


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_absurd_exif_orientation_is_ignored_with_a_warning(orientation):
    result = _inspect(_with_exif(_picture(), {0x0112: orientation}))
    assert (result.width, result.height) == (96, 64)
    assert any("orientation" in w for w in result.metadata["warnings"])


def test_exif_orientation_makes_the_image_upright():
    upright = _picture((96, 64), seed=3).transpose(Image.Transpose.ROTATE_90)  # 64x96
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera with orientation 6 stores
    result = _inspect(_with_exif(stored, {0x0112: 6}))
    assert (result.width, result.height) == (64, 96)
    assert hamming(result.phash, _inspect(_encode(upright, "JPEG")).phash) <= 6
    assert result.metadata["exif"]["Orientation"] == 6


def test_huge_exif_fields_are_truncated_and_json_safe():
    # PNG's eXIf chunk has no 64 KiB cap, unlike JPEG's APP1 segment.
    limits = IngestLimits(max_metadata_value_chars=200)
    tags = {0x010E: "A" * 300_000, 0x013B: "Ann Example", 0x011A: 300.5, 0x9286: bytes(range(256)) * 1000}
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    result = _inspect(_encode(_picture(), "PNG", exif=exif), limits=limits)
    exif = result.metadata["exif"]
    assert exif["ImageDescription"] == "A" * 200 and exif["Artist"] == "Ann Example"
    assert exif["XResolution"] == pytest.approx(300.5)
    assert len(json.dumps(result.metadata)) < 10_000
    assert any("ImageDescription" in w and "truncated" in w for w in result.metadata["warnings"])


def test_exif_tags_over_the_total_budget_are_dropped_with_a_warning():
    tags = {0x010E: "x" * 900, 0x013B: "y" * 900, 0x8298: "z" * 900}
    result = _inspect(_with_exif(_picture(), tags), limits=IngestLimits(max_metadata_bytes=2000))
    assert len(result.metadata["exif"]) < 3
    assert any("tags dropped" in w for w in result.metadata["warnings"])


def test_iptc_and_xmp_are_extracted():
    iptc = b"".join(b"\x1c\x02" + bytes([ds]) + struct.pack(">H", len(v)) + v
                    for ds, v in ((25, b"logo"), (25, b"blue"), (116, "© Brand Ltd".encode())))
    resource_block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    app13 = b"Photoshop 3.0\x00" + resource_block
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    jpeg = _encode(_picture(), "JPEG", xmp=xmp)
    jpeg = jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + jpeg[2:]
    meta = _inspect(jpeg).metadata
    assert meta["iptc"]["Keywords"] == ["logo", "blue"]
    assert meta["iptc"]["CopyrightNotice"] == "© Brand Ltd"
    assert meta["xmp"].startswith("<x:xmpmeta")
    dropped = _inspect(jpeg, limits=IngestLimits(max_xmp_bytes=10)).metadata
    assert dropped["xmp"] is None and any("XMP" in w for w in dropped["warnings"])


def test_rejected_file_survives_pickling():
    error = RejectedFile(name="a.png", code="truncated", reason="cut short")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.name, copy.code, copy.reason, str(copy)) == ("a.png", "truncated", "cut short", "a.png: cut short")


# --- SVG --------------------------------------------------------------------------------------------

def _svg(body: str, attrs: str = 'width="120" height="60"', prolog: str = "") -> bytes:
    return (f'{prolog}<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f"{attrs}>{body}</svg>").encode()


RED_RECT = '<rect id="r" width="120" height="60" fill="#ff0000"/>'


def test_clean_svg_is_rasterised_and_described():
    result = _inspect(_svg(RED_RECT), "logo.svg")
    assert (result.mime, result.ext, result.width, result.height, result.mode) == ("image/svg+xml", "svg", 120, 60, "RGBA")
    assert result.palette[0]["hex"] == "#ff0000" and result.palette[0]["weight"] > 0.95
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.metadata["warnings"] == []


@pytest.mark.parametrize(("body", "attrs", "gone"), [
    ("<script>alert(1)</script>" + RED_RECT, 'width="120" height="60"', b"alert"),
    (RED_RECT, 'width="120" height="60" onload="alert(1)"', b"onload"),
    ('<image href="http://evil.example/x.png" width="10" height="10"/>' + RED_RECT, 'width="9" height="9"', b"evil"),
    ('<image xlink:href="file:///etc/passwd" width="10" height="10"/>', 'width="9" height="9"', b"passwd"),
    ('<a href="javascript:alert(1)">' + RED_RECT + "</a>", 'width="9" height="9"', b"javascript"),
    ('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>', 'width="9" height="9"',
     b"foreignObject"),
    ('<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>', 'width="9" height="9"', b"alert"),
    ("<style>@import url(http://evil.example/a.css); rect{fill:url(http://evil.example/p)}</style>",
     'width="9" height="9"', b"evil"),
    (RED_RECT.replace('fill="#ff0000"', 'style="fill:url(https://evil.example/#p)"'), 'width="9" height="9"',
     b"evil"),
    ('<set attributeName="href" to="javascript:alert(1)"/>', 'width="9" height="9"', b"javascript"),
])
def test_active_svg_content_is_removed_or_refused(body, attrs, gone):
    data = _svg(body, attrs)
    result = _inspect(data, "icon.svg")
    assert gone not in result.data
    assert any(w.startswith("SVG sanitised") for w in result.metadata["warnings"])
    assert result.sha256 == hashlib.sha256(result.data).hexdigest() != hashlib.sha256(data).hexdigest()
    strict = _rejected(data, "icon.svg", IngestLimits(reject_unsafe_svg=True))
    assert strict.code == "svg_unsafe"


def test_safe_references_survive_sanitising():
    png = _encode(Image.new("RGB", (2, 2), "blue"), "PNG")
    import base64

    inline = f'<image href="data:image/png;base64,{base64.b64encode(png).decode()}" width="4" height="4"/>'
    result = _inspect(_svg(RED_RECT + '<use xlink:href="#r" x="5"/>' + inline), "ok.svg")
    assert b'href="#r"' in result.data and b"data:image/png" in result.data
    assert result.metadata["warnings"] == []


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd"> %remote;]>',
])
def test_svg_entities_are_refused(prolog):
    error = _rejected(_svg("<text>&xxe;</text>" if "xxe" in prolog else RED_RECT, prolog=prolog), "xxe.svg")
    assert error.code == "svg_unsafe" and "entities" in error.reason


def test_plain_doctype_is_tolerated_and_dropped():
    prolog = '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
    result = _inspect(_svg(RED_RECT, prolog=prolog), "old.svg")
    assert b"DOCTYPE" not in result.data


def test_svg_use_bomb_is_refused():
    layers = ['<g id="l0">' + RED_RECT.replace('id="r"', "") + "</g>"]
    layers += [f'<g id="l{i}">' + f'<use href="#l{i - 1}"/>' * 10 + "</g>" for i in range(1, 9)]
    error = _rejected(_svg("<defs>" + "".join(layers) + '</defs><use href="#l8"/>'), "lol.svg")
    assert error.code == "svg_unsafe" and "expands" in error.reason


def test_svg_reference_cycle_is_refused():
    body = '<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>'
    assert _rejected(_svg(body), "cycle.svg").code == "svg_unsafe"


@pytest.mark.parametrize(("data", "code"), [
    (_svg(RED_RECT) + b"<svg/>", "svg_invalid"),
    (b'<svg width="10"><rect/></svg>', "svg_invalid"),
    (_svg(RED_RECT, 'width="100000" height="100000"'), "too_many_pixels"),
    (_svg(RED_RECT) + b"PK\x03\x04", "svg_invalid"),
])
def test_malformed_or_oversized_svg(data, code):
    assert _rejected(data, "bad.svg").code == code


def test_rasterise_svg_sizes_and_limits():
    clean = _inspect(_svg(RED_RECT), "r.svg").data
    assert rasterise_svg(clean).size == (120, 60)
    assert rasterise_svg(clean, width=60).size == (60, 30)
    assert rasterise_svg(clean, height=30).size == (60, 30)
    with pytest.raises(SvgRenderError, match="pixel limit"):
        rasterise_svg(clean, width=20_000, max_pixels=1_000_000)


# --- fuzz: damaged bytes never escape as anything but RejectedFile ---------------------------------

_SEEDS = {fmt: _encode(_picture((40, 30)), fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF")}
_SEEDS["SVG"] = _svg(RED_RECT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(_SEEDS)), edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                        max_size=6), cut=st.integers(0, 10_000))
def test_damaged_files_are_described_or_rejected_never_crash(fmt, edits, cut):
    data = bytearray(_SEEDS[fmt])
    for at, value in edits:
        data[at % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    try:
        result = _inspect(data, f"fuzz.{fmt.lower()}")
    except RejectedFile as exc:
        assert exc.code and exc.reason
    else:
        json.dumps(result.metadata)
        assert result.width > 0 and result.height > 0
