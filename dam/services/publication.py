"""At publication, a generated file's Content Credentials are re-issued with the review decisions."""

from __future__ import annotations

from django.utils import timezone

from dam.models import Asset, AssetVersion, Rendition, ReviewTransition
from dam.services.files import read_stored
from dam.services.renditions import NewRendition, store_renditions

# The delivered original of a generated asset: its bytes re-signed with the review recorded.
PUBLISHED_ORIGINAL = "published-original"  # not a spec the grammar can produce: no collision
_DECISIONS = {"approve": "approved", "publish": "published"}


def published_original(version: AssetVersion) -> Rendition | None:
    return Rendition.objects.filter(version=version, spec=PUBLISHED_ORIGINAL, focal_key="", signed=True).first()


def reissue_credentials(*, version: AssetVersion) -> Rendition | None:
    """Make (once) the re-signed original of a published generated version; None if not applicable."""
    from provenance.c2pa.manifests import ReviewDecision
    from provenance.services.signing import reissue_published

    if version.asset.source != Asset.Source.GENERATED or version.asset.published_version_id != version.pk:
        return None
    existing = published_original(version)
    if existing is not None:
        return existing
    trail = ReviewTransition.objects.filter(version=version, sha256=version.sha256, action__in=list(_DECISIONS))
    decisions = [
        ReviewDecision(step=t.step_name or "Publication", decision=_DECISIONS[t.action], decided_at=t.created_at)
        for t in trail.order_by("created_at", "id")
    ]
    original = read_stored(version.file)
    data = reissue_published(
        data=original, mime_type=version.mime, title=version.asset.title, decisions=decisions,
        published_at=trail.filter(action="publish").values_list("created_at", flat=True).last() or timezone.now(),
    )
    lookup = {"version": version, "spec": PUBLISHED_ORIGINAL, "focal_key": "", "signed": True}
    ext = version.file.name.rsplit(".", 1)[-1]
    new = NewRendition(lookup=lookup, data=data, mime=version.mime, ext=ext, width=version.width, height=version.height)
    return store_renditions([new])[0]
