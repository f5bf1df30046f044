"""Signals other parts subscribe to (REST webhooks, notifications)."""

from django.dispatch import Signal

# Sent after the transaction commits, for every review transition.
# Arguments: transition (ReviewTransition), version (AssetVersion), asset (Asset).
version_transitioned = Signal()

# Sent after commit when an asset is created by ingest. Arguments: asset, version.
asset_created = Signal()
