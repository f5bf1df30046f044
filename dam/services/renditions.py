"""Renditions: made on demand, stored once per (version, canonical spec), safe under races."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from dam.conf import dam_settings
from dam.models import AssetVersion, Rendition
from dam.renditions import RenditionLimits, RenditionSpec, parse_spec, render
from dam.services import files

SVG_MIME = "image/svg+xml"
_URL_SALT = "dam.rendition-url"


def rendition_limits() -> RenditionLimits:
    return RenditionLimits(
        max_dimension=dam_settings.RENDITION_MAX_SIDE, max_pixels=dam_settings.RENDITION_MAX_PIXELS
    )


def canonical_spec(spec: str | RenditionSpec) -> RenditionSpec:
    """Parse ``spec`` (raising InvalidRenditionSpec with the offending part named)."""
    return spec if isinstance(spec, RenditionSpec) else parse_spec(spec, limits=rendition_limits())


def _read(version: AssetVersion) -> bytes:
    return files.read_stored(version.file)


def _open_source(version: AssetVersion, data: bytes) -> Image.Image:
    if version.mime == SVG_MIME:
        from dam.ingest.svg import rasterise_svg

        return rasterise_svg(data)
    return Image.open(io.BytesIO(data))


class _Source:
    """The original of one version, read and decoded at most once for several renditions.

    JPEGs are reopened for each rendition so each can be decoded at its own reduced DCT scale;
    other formats are decoded once and shared.
    """

    def __init__(self, version: AssetVersion, decoded: Image.Image | None = None):
        self.version = version
        self._data: bytes | None = None
        self._decoded = decoded

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = _read(self.version)
        return self._data

    def image(self) -> Image.Image:
        if self.version.mime == "image/jpeg":
            return _open_source(self.version, self.data)
        if self._decoded is None:
            self._decoded = _open_source(self.version, self.data)
            self._decoded.load()
        return self._decoded


def get_or_create_rendition(*, version: AssetVersion, spec: str | RenditionSpec, signed: bool = False) -> Rendition:
    """The rendition of ``version`` for ``spec``; ``signed`` ones carry a C2PA manifest (delivery)."""
    return get_or_create_renditions(version=version, specs=[spec], signed=signed)[0]


def get_or_create_renditions(
    *, version: AssetVersion, specs: list[str | RenditionSpec], signed: bool = False,
    decoded: Image.Image | None = None,
) -> list[Rendition]:
    """Several renditions of one version, reading (and, but for JPEG, decoding) the original once.

    ``decoded``: the original's pixels already decoded by the caller (ingest), used for non-JPEG.
    The missing ones are stored together: one journal commit and one commit for their rows.
    """
    parsed_specs = [canonical_spec(spec) for spec in specs]  # every spec is valid before any work
    source = _Source(version, decoded if version.mime != "image/jpeg" else None)
    found: list[Rendition | None] = []
    missing: list[NewRendition] = []
    for parsed in parsed_specs:
        lookup = _lookup(version=version, parsed=parsed, signed=signed)
        existing = Rendition.objects.filter(**lookup).first()
        found.append(existing)
        if existing is None:
            missing.append(_make(lookup=lookup, parsed=parsed, source=source))
    made = iter(store_renditions(missing))
    return [rendition if rendition is not None else next(made) for rendition in found]


@dataclass(frozen=True)
class NewRendition:
    lookup: dict
    data: bytes
    mime: str
    ext: str
    width: int
    height: int


def _lookup(*, version: AssetVersion, parsed: RenditionSpec, signed: bool) -> dict:
    asset = version.asset
    # Only crops depend on the focal point, and it belongs to the current version's pixels.
    focal = asset.focal_point if asset.current_version_id == version.pk and parsed.uses_focal_point else None
    focal_key = "-".join(map(str, focal)) if focal else ""
    return {"version": version, "spec": parsed.canonical, "focal_key": focal_key, "signed": signed}


def _make(*, lookup: dict, parsed: RenditionSpec, source: _Source) -> NewRendition:
    version = lookup["version"]
    focal = tuple(int(v) for v in lookup["focal_key"].split("-")) if lookup["focal_key"] else None
    rendered = render(
        image=source.image(), spec=parsed, focal_point=focal, source_format=version.mime, limits=rendition_limits()
    )
    data = rendered.data
    if lookup["signed"]:
        from provenance.services.signing import sign_rendition_bytes

        data = sign_rendition_bytes(
            data=data, mime_type=rendered.mime, original_data=source.data, original_mime=version.mime,
            title=version.asset.title, resized=(rendered.width, rendered.height) != (version.width, version.height),
        )
    return NewRendition(lookup=lookup, data=data, mime=rendered.mime, ext=rendered.ext,
                        width=rendered.width, height=rendered.height)


def store_renditions(items: list[NewRendition]) -> list[Rendition]:
    """Store derived bytes as the renditions their lookups name; a concurrent maker's row wins."""
    if not items:
        return []
    stems = []
    for item in items:
        key = f"{item.lookup['spec']}|{item.lookup['focal_key']}|{item.lookup['signed']}"
        sha = item.lookup["version"].sha256
        stems.append((f"renditions/{sha[:2]}/{sha}/{hashlib.sha256(key.encode()).hexdigest()[:16]}", item.ext, item.data))
    names = files.write_pending_many(stems)
    rows = [
        Rendition(**item.lookup, file=name, mime=item.mime, width=item.width, height=item.height, size=len(item.data))
        for item, name in zip(items, names, strict=True)
    ]
    try:
        with transaction.atomic():
            for row in rows:
                row.save()
            files.adopt(*names)
        return rows
    except IntegrityError:
        pass  # someone made one of them first: settle them one by one
    except BaseException:
        for name in names:
            files.discard(name)
        raise
    settled = []
    for item, name, row in zip(items, names, rows, strict=True):
        row.pk = None
        try:
            with transaction.atomic():
                row.save()
                files.adopt(name)
            settled.append(row)
        except IntegrityError:
            files.discard(name)
            settled.append(Rendition.objects.get(**item.lookup))
    return settled


# Who a signed URL is for. Either way the state is checked again when the URL is used:
# "staff" needs a session allowed to view the collection, "delivery" needs the delivery gate to pass.
STAFF, DELIVERY = "staff", "delivery"


@dataclass(frozen=True)
class RenditionToken:
    version_id: int
    spec: str
    audience: str


def rendition_token(*, version_id: int, spec: str, audience: str = STAFF) -> str:
    if audience not in (STAFF, DELIVERY):
        raise ValueError(f"audience must be {STAFF!r} or {DELIVERY!r}, not {audience!r}")
    return signing.dumps({"v": version_id, "s": spec, "a": audience}, salt=_URL_SALT, compress=True)


def rendition_url(*, version: AssetVersion, spec: str | RenditionSpec, audience: str = STAFF) -> str:
    """A signed URL for a rendition; valid for DAM_RENDITION_URL_MAX_AGE seconds."""
    parsed = canonical_spec(spec)
    token = rendition_token(version_id=version.pk, spec=parsed.canonical, audience=audience)
    return reverse("dam:rendition", kwargs={"token": token})


def read_rendition_token(token: str) -> RenditionToken:
    """Raises signing.BadSignature / SignatureExpired."""
    data = signing.loads(token, salt=_URL_SALT, max_age=dam_settings.RENDITION_URL_MAX_AGE)
    return RenditionToken(version_id=int(data["v"]), spec=str(data["s"]), audience=str(data.get("a", STAFF)))
