"""Provenance settings, read lazily from Django settings (``PROVENANCE_*``) with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    # Where provenance_init writes the development CA and signing key (never the repository).
    "KEY_DIR": "",
    "TRUST_ANCHORS": "",
}

provenance_settings = app_settings("PROVENANCE_", DEFAULTS)


def key_dir():
    from pathlib import Path

    return Path(provenance_settings.KEY_DIR or (Path(settings.VAR_DIR) / "provenance"))
