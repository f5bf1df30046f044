"""Generative settings, read lazily from Django settings (``GENERATIVE_*``) with defaults."""

from __future__ import annotations

from typing import Any

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    "DEVICE": "",
}

generative_settings = app_settings("GENERATIVE_", DEFAULTS)
