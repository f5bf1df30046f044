"""DAM background work. Tasks take ids, look the rows up themselves and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from dam.conf import dam_settings
from dam.models import AssetVersion


@shared_task(acks_late=True, ignore_result=False)
def prewarm_renditions(version_id: int, signed: bool = False) -> list[str]:
    """Make the configured renditions of one version (signed: the delivery ones); returns the specs."""
    from dam.services.renditions import get_or_create_renditions

    version = AssetVersion.objects.select_related("asset").filter(pk=version_id).first()
    if version is None:  # deleted since it was queued: nothing to do
        return []
    # A bad DAM_PREWARM_SPECS entry fails here before any work (dam.E001 reports it at start-up too).
    made = get_or_create_renditions(version=version, specs=list(dam_settings.PREWARM_SPECS), signed=signed)
    return [rendition.spec for rendition in made]


@shared_task(acks_late=True)
def reconcile_pending_files() -> int:
    from dam.services.files import reconcile_pending

    return reconcile_pending(grace_seconds=dam_settings.STAGING_GRACE_SECONDS)


@shared_task(acks_late=True)
def expire_assets() -> int:
    """Move approved/published versions whose rights have passed to "expired" (beat, every minute)."""
    from dam.services.workflow import expire_due

    return expire_due()


@shared_task(acks_late=True)
def reissue_publication_credentials(version_id: int) -> bool:
    """Re-sign a published generated version's original with its review decisions (idempotent)."""
    from dam.services.publication import reissue_credentials

    version = AssetVersion.objects.select_related("asset").filter(pk=version_id).first()
    return version is not None and reissue_credentials(version=version) is not None
