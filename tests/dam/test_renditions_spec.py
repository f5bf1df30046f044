"""The rendition spec grammar and the geometry plans (no pixels involved)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dam.renditions import (
    InvalidRenditionSpec,
    RenditionLimits,
    RenditionTooLarge,
    canonicalise,
    parse_spec,
)
from dam.renditions.operations import OPERATIONS, FocalPoint
from dam.renditions.spec import MAX_SPEC_LENGTH


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("original", "original"),
        ("width-300", "width-300"),
        ("height-0200", "height-200"),
        ("max-165x165|format-webp", "max-165x165|format-webp"),
        ("format-webp|max-165x165", "max-165x165|format-webp"),
        ("format-webp", "original|format-webp"),
        ("quality-80|format-jpg|fill-300x200", "fill-300x200|format-jpeg|quality-80"),
        ("fill-300x200-c0", "fill-300x200"),
        ("fill-300x200-c050", "fill-300x200-c50"),
        ("bgcolor-FfF|format-jpeg", "original|format-jpeg|bgcolor-ffffff"),
        ("bgcolor-12ab9C|min-10x20", "min-10x20|bgcolor-12ab9c"),
        ("scale-50|format-avif|quality-40", "scale-50|format-avif|quality-40"),
    ],
)
def test_canonical_form(spec: str, canonical: str) -> None:
    assert canonicalise(spec) == canonical
    assert canonicalise(canonical) == canonical


_PARTS = st.tuples(
    st.sampled_from(
        ["original", "width-120", "height-90", "max-165x165", "min-64x48", "scale-25", "fill-300x200-c40"]
    ),
    st.sampled_from([None, "format-webp", "format-jpeg", "format-avif"]),
    st.sampled_from([None, "quality-1", "quality-77", "quality-100"]),
    st.sampled_from([None, "bgcolor-abc", "bgcolor-000000"]),
)


@settings(max_examples=60, deadline=None)
@given(parts=_PARTS, seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_order_of_parts_does_not_change_the_cache_key(parts: tuple[str | None, ...], seed: int) -> None:
    present = [p for p in parts if p is not None]
    shuffled = present[:]
    random.Random(seed).shuffle(shuffled)
    key = canonicalise("|".join(present))
    assert canonicalise("|".join(shuffled)) == key
    # The key is itself a valid spec that parses to the same operations.
    assert parse_spec(key) == parse_spec("|".join(shuffled))


def test_distinct_requests_have_distinct_keys() -> None:
    specs = ["width-300", "width-301", "height-300", "fill-300x200", "fill-300x200-c10", "fill-200x300"]
    assert len({canonicalise(s) for s in specs}) == len(specs)


def test_operations_come_back_in_canonical_order() -> None:
    spec = parse_spec("bgcolor-fff|quality-60|format-jpeg|width-10")
    assert [op.name for op in spec.operations] == ["width", "format", "quality", "bgcolor"]
    assert str(spec) == spec.canonical


@pytest.mark.parametrize(
    ("spec", "code", "part"),
    [
        ("blur-5", "unknown_operation", "blur-5"),
        ("width-300|sharpen", "unknown_operation", "sharpen"),
        ("Width-300", "unknown_operation", "Width-300"),
        ("width-abc", "invalid_argument", "width-abc"),
        ("width-0", "invalid_argument", "width-0"),
        ("width--5", "invalid_argument", "width--5"),
        ("width-1.5", "invalid_argument", "width-1.5"),
        ("width-1_000", "invalid_argument", "width-1_000"),
        ("width", "invalid_argument", "width"),
        ("width-10-20", "invalid_argument", "width-10-20"),
        ("original-5", "invalid_argument", "original-5"),
        ("max-165", "invalid_argument", "max-165"),
        ("max-165x", "invalid_argument", "max-165x"),
        ("min-0x10", "invalid_argument", "min-0x10"),
        ("fill-300x200-z9", "invalid_argument", "fill-300x200-z9"),
        ("fill-300x200-c101", "invalid_argument", "fill-300x200-c101"),
        ("fill-300x200-c5-c6", "invalid_argument", "fill-300x200-c5-c6"),
        ("scale-0", "invalid_argument", "scale-0"),
        ("scale-1001", "invalid_argument", "scale-1001"),
        ("format-gif", "invalid_argument", "format-gif"),
        ("format-", "invalid_argument", "format-"),
        ("quality-0", "invalid_argument", "quality-0"),
        ("quality-101", "invalid_argument", "quality-101"),
        ("bgcolor-red", "invalid_argument", "bgcolor-red"),
        ("bgcolor-12345", "invalid_argument", "bgcolor-12345"),
        ("format-webp|format-png", "duplicate_operation", "format-png"),
        ("quality-80|quality-80", "duplicate_operation", "quality-80"),
        ("width-100|fill-10x10", "duplicate_operation", "fill-10x10"),
        ("original|scale-50", "duplicate_operation", "scale-50"),
        ("format-png|quality-50", "conflicting_operations", "quality-50"),
        ("width-10||format-png", "empty_part", ""),
        ("width-10|", "empty_part", ""),
    ],
)
def test_bad_specs_are_rejected_with_a_stable_code_naming_the_part(spec: str, code: str, part: str) -> None:
    with pytest.raises(InvalidRenditionSpec) as caught:
        parse_spec(spec)
    assert caught.value.code == code
    assert caught.value.part == part
    if part:
        assert f"'{part}'" in str(caught.value)


def test_error_is_a_value_error_so_generic_handlers_see_a_client_mistake() -> None:
    with pytest.raises(ValueError, match="unknown operation 'blur'"):
        parse_spec("blur-3")


def test_empty_and_overlong_specs() -> None:
    with pytest.raises(InvalidRenditionSpec) as caught:
        parse_spec("")
    assert caught.value.code == "empty_spec"
    with pytest.raises(InvalidRenditionSpec) as caught:
        parse_spec("|".join(["width-10"] * (MAX_SPEC_LENGTH // 8 + 1)))
    assert caught.value.code == "spec_too_long"


def test_non_string_spec_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        parse_spec(300)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["width-100000", "height-100000", "max-100000x10", "fill-10x100000"])
def test_100000_px_is_refused_as_too_large(spec: str) -> None:
    with pytest.raises(RenditionTooLarge) as caught:
        parse_spec(spec)
    assert caught.value.code == "too_large"
    assert "100000" in str(caught.value) and "8000" in str(caught.value)


def test_fill_area_is_limited_even_when_each_side_is_allowed() -> None:
    with pytest.raises(RenditionTooLarge, match="64,000,000"):
        parse_spec("fill-8000x8000")
    assert parse_spec("fill-8000x5000").canonical == "fill-8000x5000"


def test_limits_are_configurable() -> None:
    small = RenditionLimits(max_dimension=500, max_pixels=100_000)
    assert canonicalise("width-500", limits=small) == "width-500"
    with pytest.raises(RenditionTooLarge, match="500 px limit"):
        parse_spec("width-501", limits=small)
    with pytest.raises(RenditionTooLarge):
        parse_spec("fill-400x400", limits=small)


def test_registry_names_every_documented_operation() -> None:
    assert set(OPERATIONS) == {
        "original", "fill", "width", "height", "max", "min", "scale", "format", "quality", "bgcolor"
    }  # fmt: skip


def _plan(spec: str, size: tuple[int, int], focal: FocalPoint | None = None):
    return parse_spec(spec).geometry.plan(size=size, focal=focal)


@pytest.mark.parametrize(
    ("spec", "source", "expected"),
    [
        ("original", (640, 480), (640, 480)),
        ("width-320", (640, 480), (320, 240)),
        ("width-1000", (640, 480), (640, 480)),
        ("height-120", (640, 480), (160, 120)),
        ("height-1000", (640, 480), (640, 480)),
        ("max-100x100", (640, 480), (100, 75)),
        ("max-100x100", (480, 640), (75, 100)),
        ("max-1000x1000", (640, 480), (640, 480)),
        ("min-100x100", (640, 480), (133, 100)),
        ("min-1000x100", (640, 480), (640, 480)),
        ("scale-50", (640, 480), (320, 240)),
        ("scale-200", (640, 480), (1280, 960)),
        ("scale-1", (50, 50), (1, 1)),
        ("width-1", (10, 1000), (1, 100)),
        ("fill-300x200", (640, 480), (300, 200)),
        ("fill-300x200", (150, 150), (150, 100)),
    ],
)
def test_geometry_output_sizes(spec: str, source: tuple[int, int], expected: tuple[int, int]) -> None:
    assert _plan(spec, source).size == expected


def test_fill_without_focal_point_crops_the_centre() -> None:
    plan = _plan("fill-100x100-c80", (800, 400))
    assert plan.box == (200, 0, 600, 400)


def test_fill_crop_follows_the_focal_point_and_stays_inside_the_source() -> None:
    plan = _plan("fill-100x100", (800, 400), FocalPoint(x=700, y=200, width=50, height=50))
    assert plan.box == (400, 0, 800, 400)
    plan = _plan("fill-100x100", (800, 400), FocalPoint(x=100, y=200, width=50, height=50))
    assert plan.box == (0, 0, 400, 400)


def test_crop_closeness_zooms_towards_the_focal_area_but_never_upscales() -> None:
    focal = FocalPoint(x=300, y=100, width=120, height=60)
    loose = _plan("fill-100x100", (800, 400), focal).box
    half = _plan("fill-100x100-c50", (800, 400), focal).box
    tight = _plan("fill-100x100-c100", (800, 400), focal).box
    assert loose[2] - loose[0] == 400
    assert half[2] - half[0] == pytest.approx(260)
    assert tight == pytest.approx((240, 40, 360, 160))
    tiny = _plan("fill-100x100-c100", (800, 400), FocalPoint(x=300, y=100, width=10, height=10)).box
    assert tiny[2] - tiny[0] == pytest.approx(100)


@settings(max_examples=150, deadline=None)
@given(
    src=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    target=st.tuples(st.integers(1, 800), st.integers(1, 800)),
    closeness=st.integers(0, 100),
    focal=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 0.5), st.floats(0, 0.5)),
)
def test_fill_plan_properties(
    src: tuple[int, int], target: tuple[int, int], closeness: int, focal: tuple[float, ...]
) -> None:
    fx, fy, fw, fh = focal
    point = FocalPoint(x=fx * src[0], y=fy * src[1], width=fw * src[0], height=fh * src[1])
    plan = _plan(f"fill-{target[0]}x{target[1]}-c{closeness}", src, point)
    left, top, right, bottom = plan.box
    eps = 1e-6 * max(src)
    assert -eps <= left < right <= src[0] + eps and -eps <= top < bottom <= src[1] + eps
    # Same aspect ratio as the request, and never larger than the request or upscaled.
    assert (right - left) * target[1] == pytest.approx((bottom - top) * target[0], rel=1e-6)
    assert plan.size[0] <= target[0] and plan.size[1] <= target[1]
    assert plan.size[0] <= round(right - left) + 1
    # When the whole focal area fits in the crop, it is inside the crop.
    if point.width <= right - left and point.height <= bottom - top:
        if point.x - point.width / 2 >= 0 and point.x + point.width / 2 <= src[0]:
            assert left - eps <= point.x - point.width / 2 and point.x + point.width / 2 <= right + eps
