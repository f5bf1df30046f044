"""Namespaced app settings (``DAM_*``, ``GENERATIVE_*``, ``PROVENANCE_*``), read lazily.

Values may come from the environment as strings; each is coerced to its default's type, so
``DAM_MAX_UPLOAD_BYTES=1000`` in the environment works as well as ``override_settings``. The cache is
dropped on ``setting_changed`` so tests can override any of them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed


def _coerce(name: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            return value.lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            return json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
    except ValueError as exc:
        raise ValueError(f"{name}={value!r} is not a valid {type(default).__name__}") from exc
    return value


class AppSettings:
    def __init__(self, prefix: str, defaults: dict[str, Any]):
        self._prefix = prefix
        self._defaults = defaults
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in self._defaults:
            raise AttributeError(f"unknown setting {self._prefix}{name}")
        if name not in self._cache:
            raw = getattr(django_settings, self._prefix + name, self._defaults[name])
            self._cache[name] = _coerce(self._prefix + name, raw, self._defaults[name])
        return self._cache[name]

    def reload(self, *, setting: str, **kwargs: Any) -> None:
        if setting.startswith(self._prefix):
            self._cache.clear()



def app_settings(prefix: str, defaults: dict[str, Any]) -> AppSettings:
    settings = AppSettings(prefix, defaults)
    setting_changed.connect(settings.reload, dispatch_uid=f"{prefix}settings_reload", weak=False)
    return settings
