"""API settings (``DAM_API_*``), read lazily with defaults."""

from __future__ import annotations

from typing import Any

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    # Per token (or session user); empty turns throttling off.
    "THROTTLE_RATE": "1200/min",
    # How long a POST's first response is kept for replays.
    "IDEMPOTENCY_TTL": 24 * 3600,
    # A claim older than this with no stored response belongs to a crashed request; it may be retaken.
    "IDEMPOTENCY_STALE_SECONDS": 300,
    # Cache-Control max-age of rendition bytes served by the API.
    "RENDITION_MAX_AGE": 300,
    "PAGE_SIZE": 50,
    "MAX_PAGE_SIZE": 200,
}

api_settings = app_settings("DAM_API_", DEFAULTS)
