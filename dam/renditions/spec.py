"""The rendition spec grammar: ``fill-300x200-c50|format-webp|quality-80``.

A spec is ``|``-separated parts; a part is an operation name from the registry followed by its
``-``-separated arguments. Each kind of operation (resize, format, quality, bgcolor) may appear at
most once, so the order of parts carries no meaning and the canonical form sorts them by kind and
writes every argument in one spelling: that string is the cache key, so
``format-webp|width-300`` and ``width-300|format-webp`` share one rendition. A spec without a resize
operation means ``original``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dam.renditions.exceptions import InvalidRenditionSpec
from dam.renditions.operations import (
    DEFAULT_LIMITS,
    OPERATIONS,
    OUTPUT_FORMATS,
    BgColor,
    Format,
    GeometryOperation,
    Operation,
    Original,
    Quality,
    RenditionLimits,
)

# Long enough for any sensible spec; stops a hostile string from costing anything to parse.
MAX_SPEC_LENGTH = 200

# Operation kinds, in canonical order; each names the RenditionSpec field that holds it.
_KINDS = ("geometry", "format", "quality", "bgcolor")


@dataclass(frozen=True)
class RenditionSpec:
    geometry: GeometryOperation
    format: Format | None = None
    quality: Quality | None = None
    bgcolor: BgColor | None = None

    @property
    def operations(self) -> tuple[Operation, ...]:
        """The operations in canonical order (geometry, format, quality, bgcolor)."""
        found = (getattr(self, kind) for kind in _KINDS)
        return tuple(op for op in found if op is not None)

    @property
    def uses_focal_point(self) -> bool:
        """Whether the focal point changes the result (only crops do)."""
        return self.geometry.uses_focal_point

    @property
    def canonical(self) -> str:
        return "|".join(op.canonical() for op in self.operations)

    def __str__(self) -> str:
        return self.canonical


def parse_spec(spec: str, *, limits: RenditionLimits = DEFAULT_LIMITS) -> RenditionSpec:
    """Parse and validate ``spec``; raise ``InvalidRenditionSpec`` naming the offending part."""
    if not isinstance(spec, str):
        raise TypeError(f"rendition spec must be a str, not {type(spec).__name__}")
    if not spec:
        raise InvalidRenditionSpec("rendition spec is empty", code="empty_spec")
    if len(spec) > MAX_SPEC_LENGTH:
        raise InvalidRenditionSpec(
            f"rendition spec is {len(spec)} characters long, over the {MAX_SPEC_LENGTH} limit",
            code="spec_too_long",
        )
    by_kind: dict[str, tuple[str, Operation]] = {}
    for part in spec.split("|"):
        operation = _parse_part(part, spec=spec, limits=limits)
        if operation.kind in by_kind:
            earlier = by_kind[operation.kind][0]
            raise InvalidRenditionSpec(
                f"rendition spec {spec!r}: '{part}' repeats '{earlier}'; "
                f"a spec takes one {operation.kind} operation",
                code="duplicate_operation",
                part=part,
            )
        by_kind[operation.kind] = (part, operation)
    fields = {kind: op for kind, (_, op) in by_kind.items()}
    fields.setdefault("geometry", Original())
    result = RenditionSpec(**fields)
    _check_combination(result, spec=spec, parts={kind: part for kind, (part, _) in by_kind.items()})
    return result


def canonicalise(spec: str, *, limits: RenditionLimits = DEFAULT_LIMITS) -> str:
    """The cache-key form of ``spec`` (validated on the way)."""
    return parse_spec(spec, limits=limits).canonical


def coerce_spec(spec: RenditionSpec | str, *, limits: RenditionLimits = DEFAULT_LIMITS) -> RenditionSpec:
    return spec if isinstance(spec, RenditionSpec) else parse_spec(spec, limits=limits)


def _parse_part(part: str, *, spec: str, limits: RenditionLimits) -> Operation:
    if not part:
        raise InvalidRenditionSpec(
            f"rendition spec {spec!r} has an empty part (check for '||' or a trailing '|')",
            code="empty_part",
            part=part,
        )
    name, *args = part.split("-")
    operation = OPERATIONS.get(name)
    if operation is None:
        known = ", ".join(sorted(OPERATIONS))
        raise InvalidRenditionSpec(
            f"rendition spec {spec!r}: unknown operation {name!r} in '{part}' (known: {known})",
            code="unknown_operation",
            part=part,
        )
    return operation.parse(tuple(args), part=part, limits=limits)


def _check_combination(result: RenditionSpec, *, spec: str, parts: dict[str, str]) -> None:
    if result.quality is not None and result.format is not None:
        if not OUTPUT_FORMATS[result.format.value].lossy:
            raise InvalidRenditionSpec(
                f"rendition spec {spec!r}: '{parts['quality']}' has no meaning for lossless "
                f"'{parts['format']}'",
                code="conflicting_operations",
                part=parts["quality"],
            )
