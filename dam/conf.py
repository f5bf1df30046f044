"""DAM settings, read lazily from Django settings (``DAM_*``) with defaults."""

from __future__ import annotations

from typing import Any

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    "MAX_UPLOAD_BYTES": 200 * 1024 * 1024,
    "MAX_PIXELS": 80_000_000,
    "MAX_FRAMES": 1000,
    "NEAR_DUPLICATE_DISTANCE": 6,
    # The admin thumbnail and the most requested card size; larger previews are made on demand (an
    # 800 px preview would double the ingest cost: bench/RESULTS.md).
    "PREWARM_SPECS": ["max-165x165|format-webp", "fill-300x200|format-webp"],
    "RENDITION_MAX_SIDE": 8000,
    "RENDITION_MAX_PIXELS": 40_000_000,
    "RENDITION_URL_MAX_AGE": 3600,
    "ZIP_MAX_MEMBERS": 10_000,
    "ZIP_MAX_TOTAL_BYTES": 4 * 1024 * 1024 * 1024,
    "ZIP_MAX_RATIO": 100,
    "STAGING_GRACE_SECONDS": 3600,
    # Webhooks. Private, loopback and link-local targets are refused unless allowed (a CMS on the
    # same private network, or tests on 127.0.0.1).
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": False,
    "WEBHOOK_TIMEOUT": 10.0,
    # 12 attempts, 30 s doubling to a 6 h cap: about 14.5 hours before a delivery is given up.
    "WEBHOOK_MAX_ATTEMPTS": 12,
    "WEBHOOK_BACKOFF_BASE": 30.0,
    "WEBHOOK_BACKOFF_MAX": 6 * 3600.0,
    "WEBHOOK_RESPONSE_EXCERPT": 1000,
}


dam_settings = app_settings("DAM_", DEFAULTS)
