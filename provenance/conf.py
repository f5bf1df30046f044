"""Provenance settings, read lazily from Django settings (``PROVENANCE_*``) with defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    # Where provenance_init writes the development CA and signing key (never the repository).
    "KEY_DIR": "",
    # Production: a PEM private key and its chain (leaf first). Empty: the files under KEY_DIR.
    "SIGNER_KEY": "",
    "SIGNER_CHAIN": "",
    # A KMS/HSM: a callable ``sign(data: bytes) -> bytes`` (or its dotted path). When set, the
    # private key never enters this process and SIGNER_KEY is ignored; SIGNER_CHAIN still applies.
    "SIGNER_CALLBACK": "",
    "SIGNING_ALGORITHM": "es256",
    "TSA_URL": "",
    # PEM files of CA certificates whose signatures verify as Trusted.
    "TRUST_ANCHORS": [],
    # Also trust the development CA under KEY_DIR when it exists (a laptop's own signatures then
    # verify as Trusted). Production turns this off and lists its anchors explicitly.
    "TRUST_LOCAL_CA": True,
    # Long edge of the thumbnail embedded in manifests; 0 embeds none.
    "THUMBNAIL_EDGE": 128,
    # What our generated media say about training and mining: allowed, notAllowed or constrained.
    "TRAINING_MINING_DEFAULT": "notAllowed",
    "WATERMARK_STRENGTH": 1.0,
    # Verification input bounds: bytes accepted, and pixels decoded (decompression bombs).
    "MAX_VERIFY_BYTES": 25 * 1024 * 1024,
    "MAX_VERIFY_PIXELS": 50_000_000,
    # Perceptual-hash search: the most differing bits (of 64) still called a near match.
    "NEAR_MATCH_DISTANCE": 10,
    # The C2PA soft-binding resolution endpoints answer anonymous clients only when true.
    "SOFT_BINDING_API_PUBLIC": False,
}

provenance_settings = app_settings("PROVENANCE_", DEFAULTS)


def key_dir() -> Path:
    return Path(provenance_settings.KEY_DIR or (Path(settings.VAR_DIR) / "provenance"))
