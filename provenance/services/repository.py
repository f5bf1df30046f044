"""Reads and writes of the manifest repository (StoredManifest rows)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from provenance.models_repository import StoredManifest
from provenance.services.fingerprints import phash_distance, similarity_percent


@dataclass(frozen=True)
class NearMatch:
    manifest: StoredManifest
    distance: int

    @property
    def similarity(self) -> int:
        return similarity_percent(self.distance)


def by_watermark(*, watermark_id: str) -> StoredManifest | None:
    return StoredManifest.objects.filter(watermark_id=watermark_id).first()


def by_manifest_id(*, manifest_id: str) -> StoredManifest | None:
    return StoredManifest.objects.filter(manifest_id=manifest_id).first()


def near_matches(*, phash: str, max_distance: int, limit: int) -> list[NearMatch]:
    """Stored manifests whose perceptual hash differs from `phash` in at most `max_distance` bits."""
    if connection.vendor == "postgresql":
        # Hamming distance in the database: XOR of the two 64-bit hashes, then count the ones.
        distance = "bit_count((('x' || phash)::bit(64)) # (('x' || %s)::bit(64)))"
        rows = StoredManifest.objects.raw(
            f"SELECT id, manifest_id, title, phash, {distance} AS distance "  # noqa: S608 (no user input)
            f"FROM {StoredManifest._meta.db_table} WHERE {distance} <= %s "
            "ORDER BY distance, created_at DESC, id LIMIT %s",
            [phash, phash, max_distance, limit],
        )
        return [NearMatch(manifest=row, distance=row.distance) for row in rows]
    found = []
    for row in StoredManifest.objects.only("id", "manifest_id", "title", "phash").iterator(chunk_size=5000):
        d = phash_distance(row.phash, phash)
        if d <= max_distance:
            found.append(NearMatch(manifest=row, distance=d))
    found.sort(key=lambda m: m.distance)
    return found[:limit]
