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
    with version.file.open("rb") as handle:
        return handle.read()


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
    """
    parsed_specs = [canonical_spec(spec) for spec in specs]  # every spec is valid before any work
    source = _Source(version, decoded if version.mime != "image/jpeg" else None)
    return [_get_or_make(version=version, parsed=parsed, signed=signed, source=source) for parsed in parsed_specs]


def _get_or_make(*, version: AssetVersion, parsed: RenditionSpec, signed: bool, source: _Source) -> Rendition:
    asset = version.asset
    # Only crops depend on the focal point, and it belongs to the current version's pixels.
    focal = asset.focal_point if asset.current_version_id == version.pk and parsed.uses_focal_point else None
    focal_key = "-".join(map(str, focal)) if focal else ""
    lookup = {"version": version, "spec": parsed.canonical, "focal_key": focal_key, "signed": signed}
    existing = Rendition.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    rendered = render(
        image=source.image(), spec=parsed, focal_point=focal, source_format=version.mime, limits=rendition_limits()
    )
    data = rendered.data
    if signed:
        from provenance.services.signing import sign_rendition_bytes

        data = sign_rendition_bytes(
            data=data, mime_type=rendered.mime, original_data=source.data, original_mime=version.mime,
            title=asset.title, resized=(rendered.width, rendered.height) != (version.width, version.height),
        )
    return store_rendition(
        lookup=lookup, data=data, mime=rendered.mime, ext=rendered.ext, width=rendered.width, height=rendered.height
    )


def store_rendition(*, lookup: dict, data: bytes, mime: str, ext: str, width: int, height: int) -> Rendition:
    """Store derived bytes as the rendition ``lookup`` names; a concurrent maker's row wins."""
    key = f"{lookup['spec']}|{lookup['focal_key']}|{lookup['signed']}"
    version = lookup["version"]
    stem = f"renditions/{version.sha256[:2]}/{version.sha256}/{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    stored = files.write_pending(stem=stem, ext=ext, data=data)
    try:
        with transaction.atomic():
            rendition = Rendition.objects.create(
                **lookup, file=stored, mime=mime, width=width, height=height, size=len(data)
            )
            files.adopt(stored)
    except IntegrityError:
        # Another request made the same rendition first: keep theirs, drop ours.
        files.discard(stored)
        return Rendition.objects.get(**lookup)
    except BaseException:
        files.discard(stored)
        raise
    return rendition


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
