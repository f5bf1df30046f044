"""The verification service on real signatures and real watermarks, including hostile input."""
# ruff: noqa: F811  (pytest fixtures imported from services_fixtures are redefined as arguments)

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from provenance import watermark
from provenance.c2pa import manifests
from provenance.c2pa.signing import KeyFileSigner
from provenance.services import signing
from provenance.services.verify import Outcome, verify_file
from tests.provenance.services_fixtures import (  # noqa: F401 (fixtures)
    LINEAGE,
    creds,
    encode,
    generated_like,
    provenance_keys,
    stranger,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated():
    source = generated_like(seed=21, size=320)
    signed = signing.sign_generated_image(data=encode(source), mime_type="image/png", title="gen", lineage=LINEAGE)
    return source, signed


def stripped(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)))


def png_chunk(data: bytes, kind: bytes) -> tuple[int, int]:
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == kind:
            return pos, length
        pos += 12 + length
    raise AssertionError(f"no {kind!r} chunk")


def test_signed_generated_image_is_valid_trusted_ai_generated(generated):
    _, signed = generated
    verdict = verify_file(data=signed.data)
    assert verdict.outcome == Outcome.VERIFIED
    assert (verdict.trusted, verdict.declares_ai_generation, verdict.in_repository) == (True, True, True)
    assert "valid, trusted, AI-generated" in verdict.summary
    payload = json.loads(json.dumps(verdict.as_json()))
    assert payload["outcome"] == "verified" and payload["embedded_manifest"]["verdict"] == "trusted"


def test_stripped_copy_recovers_the_credential_unchanged(generated):
    _, signed = generated
    verdict = verify_file(data=stripped(signed.data))
    assert verdict.outcome == Outcome.RECOVERED, verdict.summary
    assert verdict.watermark.watermark_id == signed.watermark_id
    assert verdict.recovery.manifest_id == signed.manifest_id
    assert verdict.recovery.signature_valid and verdict.recovery.trusted and verdict.recovery.pixels_match
    assert verdict.declares_ai_generation is True
    assert verdict.summary.startswith("Credential recovered")


def test_stripped_recompressed_resized_cropped_copy_is_recovered_as_altered(generated):
    _, signed = generated
    image = Image.open(io.BytesIO(signed.data)).convert("RGB")
    half = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    w, h = half.size
    cropped = half.crop((w // 20, h // 20, w - w // 20, h - h // 20))
    verdict = verify_file(data=encode(cropped, "image/jpeg", quality=75))
    assert verdict.outcome == Outcome.RECOVERED_ALTERED, verdict.summary
    assert verdict.recovery.manifest_id == signed.manifest_id and verdict.recovery.signature_valid
    assert not verdict.recovery.pixels_match and not verdict.recovery.bytes_match
    assert "credential recovered; content altered since signing" in verdict.summary.lower()
    assert f"{verdict.recovery.similarity}%" in verdict.summary and 50 <= verdict.recovery.similarity < 100


def test_unknown_unmarked_image_has_no_credential(generated):
    verdict = verify_file(data=encode(generated_like(seed=99, size=320), "image/jpeg"))
    assert verdict.outcome == Outcome.NO_CREDENTIAL
    assert verdict.summary.startswith("No credential found") and not verdict.near_matches


def test_the_unmarked_source_of_a_signed_image_is_a_near_match(generated):
    source, signed = generated
    verdict = verify_file(data=encode(source, "image/jpeg", quality=85))
    assert verdict.outcome == Outcome.NEAR_MATCH
    assert verdict.near_matches[0].manifest_id == signed.manifest_id
    assert verdict.near_matches[0].similarity >= 85
    assert "not a credential" in verdict.summary


def test_corrupted_manifest_still_recovers_through_the_watermark(generated):
    _, signed = generated
    start, length = png_chunk(signed.data, b"caBX")
    data = bytearray(signed.data)
    middle = start + 8 + length // 3
    data[middle : middle + 32] = bytes(b ^ 0xFF for b in data[middle : middle + 32])
    broken_crc = bytes(data)
    # A deliberate edit keeps the container valid: fix the chunk's CRC so the image still decodes.
    crc = zlib.crc32(data[start + 4 : start + 8 + length])
    data[start + 8 + length : start + 12 + length] = struct.pack(">I", crc)
    verdict = verify_file(data=bytes(data))
    assert verdict.embedded.verdict.value == "corrupted_manifest"
    assert verdict.outcome == Outcome.RECOVERED, verdict.summary
    assert verdict.summary.startswith("Embedded Content Credentials: the C2PA manifest is present but damaged")

    verdict = verify_file(data=broken_crc)
    assert verdict.outcome == Outcome.INVALID
    assert "damaged" in verdict.summary and "cannot be decoded" in verdict.summary


def test_unknown_ca_is_valid_but_untrusted(stranger):
    spec = KeyFileSigner(key_path=stranger.signer_key, chain_path=stranger.chain)
    lineage = manifests.GenerationLineage(
        model_version="x", snapshot_id="s", snapshot_sha256="cd" * 32, watermark_id="AAAAAAAB"
    )
    signed = manifests.sign_generated(
        data=encode(generated_like(seed=22)), mime_type="image/png", title="foreign", lineage=lineage,
        options=manifests.SignOptions(signer=spec, thumbnail_edge=None),
    )
    verdict = verify_file(data=signed)
    assert verdict.outcome == Outcome.VERIFIED and verdict.trusted is False and not verdict.in_repository
    assert "valid, untrusted" in verdict.summary and "unknown certificate authority" in verdict.summary


def test_truncated_and_garbage_files_are_unreadable(generated):
    _, signed = generated
    for data in (signed.data[: len(signed.data) // 2], b"<html>not an image</html>" * 3, b""):
        verdict = verify_file(data=data)
        assert verdict.outcome in (Outcome.UNREADABLE, Outcome.INVALID), verdict.summary
        assert verdict.summary and json.dumps(verdict.as_json())


def test_two_conflicting_manifests(generated, stranger):
    _, signed = generated
    spec = KeyFileSigner(key_path=stranger.signer_key, chain_path=stranger.chain)
    other = manifests.sign_generated(
        data=encode(generated_like(seed=23, size=320)), mime_type="image/png", title="other",
        lineage=manifests.GenerationLineage(model_version="x", snapshot_id="s", snapshot_sha256="cd" * 32,
                                            watermark_id="AAAAAAAC"),
        options=manifests.SignOptions(signer=spec, thumbnail_edge=None),
    )
    ours_at, ours_len = png_chunk(signed.data, b"caBX")
    theirs_at, theirs_len = png_chunk(other, b"caBX")
    end = ours_at + 12 + ours_len
    both = signed.data[:end] + other[theirs_at : theirs_at + 12 + theirs_len] + signed.data[end:]
    verdict = verify_file(data=both)
    assert verdict.embedded.verdict.value == "conflicting_manifests"
    assert verdict.outcome != Outcome.VERIFIED
    assert "more than one C2PA manifest store" in verdict.summary


def test_watermark_shaped_noise_and_unknown_watermarks(generated):
    rng = np.random.default_rng(5)
    # Noise with the watermark's own statistics: a marked flat image minus the flat image.
    flat = Image.new("RGB", (320, 320), (128, 128, 128))
    pattern = np.asarray(watermark.embed(flat, payload=12345), np.float32) - 128
    shuffled = rng.permutation(pattern.reshape(-1, 3)).reshape(pattern.shape)
    noise = Image.fromarray(np.clip(128 + shuffled, 0, 255).astype(np.uint8))
    verdict = verify_file(data=encode(noise))
    assert verdict.outcome == Outcome.NO_CREDENTIAL and verdict.watermark.found is False

    foreign = watermark.embed(generated_like(seed=24, size=320), payload=987654321)
    verdict = verify_file(data=encode(foreign))
    assert verdict.outcome == Outcome.UNKNOWN_WATERMARK
    assert "no manifest is stored" in verdict.summary


def test_management_command_prints_verdict_and_json(generated, tmp_path, capsys):
    _, signed = generated
    path = tmp_path / "in.png"
    path.write_bytes(stripped(signed.data))
    call_command("provenance_verify", str(path))
    assert "Credential recovered" in capsys.readouterr().out
    call_command("provenance_verify", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["outcome"] == "recovered"
