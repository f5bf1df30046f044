"""Rendering real (small, in-memory) images through every operation, mode and output format."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from dam.renditions import FocalPoint, InvalidRenditionSpec, RenditionLimits, RenditionTooLarge, render

_MIME_OF_PILLOW_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "AVIF": "image/avif"}


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _noise(size: tuple[int, int], *, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _with_red_square(size: tuple[int, int], square: tuple[int, int, int, int]) -> Image.Image:
    image = Image.new("RGB", size, (128, 128, 128))
    image.paste((255, 0, 0), square)
    return image


def _red_fraction(image: Image.Image) -> float:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    return float(red.mean())


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
@pytest.mark.parametrize("spec", ["fill-60x40", "max-50x50", "original"])
def test_every_output_format_decodes_to_the_declared_size_and_mime(fmt: str, spec: str) -> None:
    result = render(image=_noise((90, 70)), spec=f"{spec}|format-{fmt}", source_format="png")
    decoded = _open(result.data)
    assert _MIME_OF_PILLOW_FORMAT[decoded.format] == result.mime == f"image/{fmt}"
    assert decoded.size == (result.width, result.height)
    assert result.ext == ("jpg" if fmt == "jpeg" else fmt)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("original", (120, 90)),
        ("width-60", (60, 45)),
        ("height-30", (40, 30)),
        ("max-40x40", (40, 30)),
        ("min-40x40", (53, 40)),
        ("scale-25", (30, 22)),
        ("scale-150", (180, 135)),
        ("fill-50x50", (50, 50)),
        ("width-500", (120, 90)),
    ],
)
def test_geometry_operations_give_the_planned_size(spec: str, expected: tuple[int, int]) -> None:
    result = render(image=_noise((120, 90)), spec=f"{spec}|format-png", source_format="png")
    assert (result.width, result.height) == expected
    assert _open(result.data).size == expected


def test_focal_point_keeps_the_subject_in_a_fill_crop() -> None:
    source = _with_red_square((800, 400), (600, 110, 780, 290))
    focal = FocalPoint(x=690, y=200, width=180, height=180)
    centred = render(image=source.copy(), spec="fill-100x100|format-png", source_format="png")
    focused = render(image=source.copy(), spec="fill-100x100|format-png", focal_point=focal, source_format="png")
    close = render(image=source, spec="fill-100x100-c100|format-png", focal_point=focal, source_format="png")
    assert _red_fraction(_open(centred.data)) == 0
    # The largest 400x400 crop, pushed against the right edge: the square covers about (180/400)^2.
    assert 0.17 < _red_fraction(_open(focused.data)) < 0.23
    # At closeness 100 the crop is the focal area itself.
    assert _red_fraction(_open(close.data)) > 0.9


def test_crop_closeness_never_zooms_past_one_to_one() -> None:
    source = _with_red_square((800, 400), (650, 170, 710, 230))
    focal = FocalPoint(x=680, y=200, width=60, height=60)
    result = render(image=source, spec="fill-100x100-c100|format-png", focal_point=focal, source_format="png")
    # A 100x100 crop around the 60x60 square, not the square blown up to 100x100.
    assert 0.3 < _red_fraction(_open(result.data)) < 0.42


def test_focal_point_accepts_a_plain_tuple() -> None:
    source = _with_red_square((800, 400), (20, 20, 80, 80))
    result = render(image=source, spec="fill-100x100|format-png", focal_point=(50, 50, 60, 60), source_format="png")
    assert _red_fraction(_open(result.data)) > 0.01


def test_exif_orientation_is_applied_before_geometry_and_focal_point() -> None:
    stored = Image.new("RGB", (200, 100), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 100, 100))  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: the stored left edge becomes the top
    source = _open(_encode(stored, "JPEG", exif=exif, quality=95))
    result = render(image=source, spec="width-50|format-png", source_format="jpeg")
    shown = _open(result.data).convert("RGB")
    assert shown.size == (50, 100)
    assert shown.getpixel((25, 10))[0] > 200 and shown.getpixel((25, 90))[2] > 200


def test_large_jpeg_is_decoded_at_reduced_scale_and_keeps_the_focal_area() -> None:
    big = _with_red_square((2400, 1200), (2000, 500, 2200, 700))
    source = Image.open(io.BytesIO(_encode(big, "JPEG", quality=90)))
    focal = FocalPoint(x=2100, y=600, width=200, height=200)
    result = render(image=source, spec="fill-120x120", focal_point=focal, source_format="jpeg")
    assert source.size[0] < 2400  # draft() decoded a DCT-reduced image
    assert (result.width, result.height) == (120, 120) and result.mime == "image/jpeg"
    assert 0.02 < _red_fraction(_open(result.data)) < 0.06


def _mode_image(mode: str) -> Image.Image:
    rng = np.random.default_rng(3)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (40, 60), dtype=np.uint16))
    if mode == "P":
        image = _noise((60, 40)).quantize(16)
        image.info["transparency"] = 0
        return image
    if mode == "RGBA":
        return Image.fromarray(rng.integers(0, 256, (40, 60, 4), dtype=np.uint8))
    return _noise((60, 40)).convert(mode)


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "I", "I;16", "F", "YCbCr", "LAB"]
)
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_every_mode_encodes_in_every_format(mode: str, fmt: str) -> None:
    image = _mode_image(mode)
    assert image.mode == mode
    result = render(image=image, spec=f"max-30x30|format-{fmt}", source_format="png")
    decoded = _open(result.data)
    assert decoded.size == (result.width, result.height) == (30, 20)


def test_16_bit_samples_are_scaled_not_clipped() -> None:
    samples = np.full((10, 20), 65535, dtype=np.uint16)
    samples[:, :10] = 32768
    result = render(image=Image.fromarray(samples), spec="format-png", source_format="png")
    pixels = np.asarray(_open(result.data).convert("L"))
    assert pixels[0, 0] == 128 and pixels[0, 19] == 255


def _half_transparent() -> Image.Image:
    image = Image.new("RGBA", (40, 20), (0, 255, 0, 0))
    image.paste((255, 0, 0, 255), (20, 0, 40, 20))
    return image


def test_png_and_webp_keep_transparency() -> None:
    for fmt in ("png", "webp"):
        decoded = _open(render(image=_half_transparent(), spec=f"format-{fmt}", source_format="png").data)
        assert decoded.mode == "RGBA"
        assert decoded.getpixel((5, 10))[3] == 0 and decoded.getpixel((35, 10))[3] == 255


def test_jpeg_flattens_onto_white_and_bgcolor_chooses_the_colour() -> None:
    white = _open(render(image=_half_transparent(), spec="format-jpeg", source_format="png").data)
    assert min(white.getpixel((5, 10))) > 240
    blue = _open(render(image=_half_transparent(), spec="format-webp|bgcolor-00f", source_format="png").data)
    assert blue.mode == "RGB"
    r, g, b = blue.getpixel((5, 10))
    assert b > 200 and r < 40 and g < 40


def test_transparent_pixels_do_not_bleed_colour_when_downscaling() -> None:
    result = render(image=_half_transparent(), spec="width-10|format-png", source_format="png")
    decoded = _open(result.data)
    for x in range(decoded.width):
        r, g, b, a = decoded.getpixel((x, 2))
        if a > 0:
            assert g < 30, f"green from transparent pixels leaked into column {x}: {(r, g, b, a)}"


def test_opaque_alpha_is_dropped() -> None:
    opaque = Image.new("RGBA", (10, 10), (10, 20, 30, 255))
    assert _open(render(image=opaque, spec="format-png", source_format="png").data).mode == "RGB"


def test_metadata_is_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _encode(_noise((64, 48)), "JPEG", exif=exif, icc_profile=icc, comment=b"internal note")
    for fmt in ("jpeg", "png", "webp", "avif"):
        result = render(image=_open(data), spec=f"width-32|format-{fmt}", source_format="jpeg")
        assert b"SecretCameraMaker" not in result.data and b"internal note" not in result.data
        decoded = _open(result.data)
        assert not decoded.getexif() and not decoded.info.get("icc_profile")


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def _matrix_rgb_profile(*, red: tuple[float, ...], green: tuple[float, ...], blue: tuple[float, ...]) -> bytes:
    """A minimal ICC v2 display profile: primaries (D50 XYZ) and a gamma-2.2 curve per channel."""
    name = b"Test RGB\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8 + 3 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233) + bytes(2)
    white = _xyz_tag(0.9642, 1.0, 0.8249)
    tags = [(b"desc", desc), (b"wtpt", white), (b"rXYZ", _xyz_tag(*red)), (b"gXYZ", _xyz_tag(*green)),
            (b"bXYZ", _xyz_tag(*blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]  # fmt: skip
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    header = struct.pack(">I4sI", offset + len(body), bytes(4), 0x02100000) + b"mntrRGB XYZ " + bytes(12)
    header += b"acsp" + bytes(28) + white[8:] + bytes(48)
    return header + struct.pack(">I", len(tags)) + table + body


# sRGB's primaries adapted to D50; a profile that swaps red and green makes the colours easy to check.
_SRGB_RED, _SRGB_GREEN, _SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_icc_profile_is_converted_to_srgb(mode: str) -> None:
    swapped = _matrix_rgb_profile(red=_SRGB_GREEN, green=_SRGB_RED, blue=_SRGB_BLUE)
    source = Image.new(mode, (16, 16), (255, 0, 0, 200)[: len(mode)])
    data = _encode(source, "PNG", icc_profile=swapped)
    decoded = _open(render(image=_open(data), spec="width-8|format-png", source_format="png").data)
    assert decoded.mode == mode and not decoded.info.get("icc_profile")
    # The source's "red" channel is sRGB green under its profile.
    assert decoded.getpixel((4, 4))[:3] == (0, 255, 0)
    if mode == "RGBA":
        assert decoded.getpixel((4, 4))[3] == 200


def test_unreadable_icc_profile_is_ignored() -> None:
    data = _encode(_noise((64, 48)), "PNG", icc_profile=b"not a profile at all" * 8)
    result = render(image=_open(data), spec="width-32|format-webp", source_format="png")
    assert _open(result.data).size == (32, 24)


def test_cmyk_without_profile_becomes_rgb_with_the_right_colour() -> None:
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))
    decoded = _open(render(image=cmyk, spec="format-png", source_format="tiff").data)
    assert decoded.mode == "RGB" and decoded.getpixel((0, 0)) == (255, 0, 0)


def test_animated_gif_renders_its_first_frame_as_png() -> None:
    frames = [Image.new("RGB", (30, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = Image.open(io.BytesIO(buffer.getvalue()))
    gif.seek(1)
    result = render(image=gif, spec="width-10", source_format="gif")
    decoded = _open(result.data)
    assert result.mime == "image/png" and decoded.format == "PNG"
    decoded = decoded.convert("RGB")
    assert decoded.getpixel((5, 5))[0] > 200 and decoded.getpixel((5, 5))[2] < 50


@pytest.mark.parametrize(
    ("source_format", "mode", "mime"),
    [
        ("jpeg", "RGB", "image/jpeg"),
        ("JPEG", "RGB", "image/jpeg"),
        ("image/png", "RGB", "image/png"),
        ("webp", "RGB", "image/webp"),
        ("tiff", "RGB", "image/jpeg"),
        ("tiff", "RGBA", "image/png"),
    ],
)
def test_output_format_defaults_from_the_source(source_format: str, mode: str, mime: str) -> None:
    image = Image.new(mode, (8, 8), (1, 2, 3, 128) if mode == "RGBA" else (1, 2, 3))
    result = render(image=image, spec="width-4|quality-50", source_format=source_format)
    assert result.mime == mime
    assert _MIME_OF_PILLOW_FORMAT[_open(result.data).format] == mime


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_changes_the_encoding(fmt: str) -> None:
    image = _noise((64, 64), seed=7)
    low = render(image=image, spec=f"format-{fmt}|quality-10", source_format="png")
    high = render(image=image, spec=f"format-{fmt}|quality-95", source_format="png")
    assert len(low.data) < len(high.data)


def test_jpeg_is_progressive() -> None:
    result = render(image=_noise((64, 64)), spec="format-jpeg", source_format="png")
    assert _open(result.data).info.get("progressive") or _open(result.data).info.get("progression")


def _truncated_jpeg(size: tuple[int, int]) -> Image.Image:
    """A JPEG whose header promises ``size`` but holds pixels for 16x16 only: decoding it fails."""
    data = bytearray(_encode(_noise((16, 16)), "JPEG", quality=50))
    frame = data.index(b"\xff\xc0")  # baseline start-of-frame: length, precision, height, width
    data[frame + 5 : frame + 9] = size[1].to_bytes(2, "big") + size[0].to_bytes(2, "big")
    image = Image.open(io.BytesIO(bytes(data)))
    assert image.size == size
    return image


@pytest.mark.parametrize(
    ("spec", "source"),
    [("original", (7000, 7000)), ("scale-1000", (900, 100)), ("width-7000", (7500, 7000))],
)
def test_oversized_renditions_fail_before_any_pixel_is_decoded(spec: str, source: tuple[int, int]) -> None:
    image = _truncated_jpeg(source)
    with pytest.raises(RenditionTooLarge) as caught:
        render(image=image, spec=spec, source_format="jpeg")
    assert caught.value.code == "too_large"
    assert "limit" in str(caught.value)


def test_100000_px_spec_is_refused_without_touching_the_image() -> None:
    with pytest.raises(RenditionTooLarge, match="100000"):
        render(image=_truncated_jpeg((1000, 1000)), spec="width-100000", source_format="jpeg")


def test_configured_limits_apply_to_render() -> None:
    small = RenditionLimits(max_dimension=100, max_pixels=5_000)
    with pytest.raises(RenditionTooLarge, match="5,000"):
        render(image=_noise((90, 90)), spec="original", source_format="png", limits=small)
    result = render(image=_noise((90, 90)), spec="max-70x70", source_format="png", limits=small)
    assert (result.width, result.height) == (70, 70)


def test_unknown_operation_is_a_clear_error_from_render() -> None:
    with pytest.raises(InvalidRenditionSpec, match="unknown operation 'rotate'") as caught:
        render(image=_noise((10, 10)), spec="rotate-90", source_format="png")
    assert caught.value.code == "unknown_operation"
