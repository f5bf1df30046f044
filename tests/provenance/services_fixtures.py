"""Shared by the provenance service tests: real keys in a temp folder, images from fixed seeds."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from provenance.c2pa import keys
from provenance.services import signing

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/avif": "AVIF"}


def generated_like(*, seed: int, size: int = 256) -> Image.Image:
    """Smooth colour fields plus fine grain, roughly what a small generator outputs."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), dtype=np.float32)
    base += rng.normal(0, 5, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def encode(image: Image.Image, mime_type: str = "image/png", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, FORMATS[mime_type], **options)
    return out.getvalue()


LINEAGE = signing.Lineage(
    model_version="gan-7@3f2a", snapshot_id="snap-42", snapshot_sha256="ab" * 32, recipe={"seed": 7}
)


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    return keys.create_dev_credentials(directory=tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    return keys.create_dev_credentials(directory=tmp_path_factory.mktemp("stranger"), organization="Stranger Inc")


@pytest.fixture(autouse=True)
def provenance_keys(settings, creds):
    settings.PROVENANCE_KEY_DIR = str(creds.directory)
    settings.PROVENANCE_THUMBNAIL_EDGE = 64
    return creds
