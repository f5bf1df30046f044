"""The REST API for CMS integration, mounted at /api/v1/ (schema at /api/v1/schema/, docs at /api/v1/docs/).

Decisions a reader needs before the code:

- Reach (``permissions.Caller``): a session user sees the collections they may view; a token acts as
  its user, narrowed to its collections' subtrees and its scopes. A ``read``-only token is a
  delivery token: it sees only what ``dam.selectors.deliverable_assets`` lets through, and only the
  published version. Out of reach is 404 everywhere; 403 means "visible, but not with this scope".
- Idempotency (``base``, ``dam.models.idempotency``): a concurrent request with a key still in
  progress gets 409 + Retry-After rather than waiting on a lock held for an upload's duration.
- Optimistic concurrency: PATCH requires If-Match (428 without, 412 on a lost race, checked on the
  row locked for the update); workflow actions take the review ``revision`` (409 when stale).
- Colour search compares palettes in Python over at most 5,000 candidates (``filters``).
- Text search (``q``) on PostgreSQL reads ``dam_asset.search_vector``, a stored generated column
  with a GIN index (migration 0008) that PostgreSQL keeps current on every write; SQLite matches
  words with icontains.
- Uploads: the same bytes already stored outside the caller's reach answer 409 ``duplicate``
  without naming the asset (sha256 is unique library-wide).
"""
