"""Signing as the rest of BrandForge sees it: settings in, signed bytes out.

`signer_spec` and `trust_config` turn PROVENANCE_* settings into the c2pa layer's specs; the signer
and reader contexts themselves are built lazily once per worker process (provenance.c2pa.signing).
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import c2pa
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from PIL import Image

from provenance import watermark
from provenance.c2pa import manifests, reading
from provenance.c2pa.keys import CA_CERT_NAME, CHAIN_NAME, SIGNER_KEY_NAME
from provenance.c2pa.signing import CallbackSigner, KeyFileSigner, SignerSpec
from provenance.conf import key_dir, provenance_settings
from provenance.models_repository import StoredManifest
from provenance.services.fingerprints import decode_image, watermark_id_from_payload
from provenance.services.jumbf import StoreNotFoundError, extract_store

# Lossy formats are re-encoded near-losslessly after the watermark goes in: the first generation of
# a generated image should not spend the watermark's margin on our own compression.
_ENCODE_OPTIONS = {
    "image/png": ("PNG", {}),
    "image/jpeg": ("JPEG", {"quality": 95}),
    "image/webp": ("WEBP", {"quality": 95}),
    "image/avif": ("AVIF", {"quality": 90}),
}
_PAYLOAD_ATTEMPTS = 5


class ProvenanceConfigError(Exception):
    """PROVENANCE_* settings that cannot produce a signer or a trust configuration."""


class GeneratedSigningError(Exception):
    """A generated image could not be watermarked, signed or recorded."""


@dataclass(frozen=True)
class Lineage:
    """Where a generated image came from (the watermark ID is assigned here, not by the caller)."""

    model_version: str
    snapshot_id: str
    snapshot_sha256: str
    parent: manifests.SourceFile | None = None
    recipe: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SignedFile:
    data: bytes
    manifest_id: str
    watermark_id: str
    # False when the watermark did not survive our own encoding (a very flat image): the file is
    # signed and stored, but only the perceptual hash can recover it once stripped.
    watermark_detected: bool


def _path(value: str, fallback: Path) -> Path:
    return Path(value) if value else fallback


def _callback() -> Callable[[bytes], bytes] | None:
    configured = provenance_settings.SIGNER_CALLBACK
    if not configured:
        return None
    if isinstance(configured, str):
        try:
            configured = import_string(configured)
        except ImportError as exc:
            raise ProvenanceConfigError(f"PROVENANCE_SIGNER_CALLBACK={configured!r}: cannot import ({exc})") from exc
    if not callable(configured):
        raise ProvenanceConfigError(f"PROVENANCE_SIGNER_CALLBACK={configured!r}: not callable")
    return configured


def signer_spec() -> SignerSpec:
    """The configured signer: a KMS/HSM callback when one is set, else a key file and chain."""
    keys = key_dir()
    chain = _path(provenance_settings.SIGNER_CHAIN, keys / CHAIN_NAME)
    algorithm = provenance_settings.SIGNING_ALGORITHM
    tsa_url = provenance_settings.TSA_URL or None
    callback = _callback()
    if callback is not None:
        return CallbackSigner(sign=callback, chain_path=chain, algorithm=algorithm, tsa_url=tsa_url)
    key = _path(provenance_settings.SIGNER_KEY, keys / SIGNER_KEY_NAME)
    return KeyFileSigner(key_path=key, chain_path=chain, algorithm=algorithm, tsa_url=tsa_url)


def sign_options() -> manifests.SignOptions:
    edge = provenance_settings.THUMBNAIL_EDGE
    return manifests.SignOptions(signer=signer_spec(), thumbnail_edge=edge or None)


def trust_config() -> reading.TrustConfig:
    """Trust anchors from PROVENANCE_TRUST_ANCHORS, plus the local development CA if enabled."""
    anchors = [Path(p) for p in provenance_settings.TRUST_ANCHORS]
    for anchor in anchors:
        if not anchor.is_file():
            raise ProvenanceConfigError(f"PROVENANCE_TRUST_ANCHORS: {anchor} is not a readable file")
    local_ca = key_dir() / CA_CERT_NAME
    if provenance_settings.TRUST_LOCAL_CA and local_ca.is_file() and local_ca not in anchors:
        anchors.append(local_ca)
    return reading.TrustConfig.from_files(anchors=anchors)


def training_mining_policy() -> manifests.TrainingMiningPolicy:
    use = provenance_settings.TRAINING_MINING_DEFAULT
    try:
        return manifests.TrainingMiningPolicy(
            ai_generative_training=use, ai_training=use, ai_inference=use, data_mining=use
        )
    except manifests.ManifestError as exc:
        raise ProvenanceConfigError(f"PROVENANCE_TRAINING_MINING_DEFAULT: {exc}") from exc


def _embed(*, data: bytes, mime_type: str, payload: int) -> bytes:
    fmt, options = _ENCODE_OPTIONS[mime_type]
    try:
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            icc = source.info.get("icc_profile")
            marked = watermark.embed(source, payload=payload, strength=provenance_settings.WATERMARK_STRENGTH)
    except watermark.WatermarkError as exc:
        raise GeneratedSigningError(f"{mime_type} image: cannot carry the watermark ({exc})") from exc
    except OSError as exc:
        raise GeneratedSigningError(f"{mime_type} image ({len(data)} bytes): not decodable ({exc})") from exc
    if fmt == "JPEG" and marked.mode not in ("RGB", "L"):
        marked = marked.convert("RGB")
    out = io.BytesIO()
    marked.save(out, fmt, **options, **({"icc_profile": icc} if icc else {}))
    return out.getvalue()


def _record(*, signed: bytes, mime_type: str, title: str, watermark_id: str) -> StoredManifest:
    """Store the signed manifest; the cut-out store must validate against the file it came from."""
    report = reading.read_manifest(data=signed, mime_type=mime_type)
    try:
        store_bytes = extract_store(data=signed, mime_type=mime_type)
        with c2pa.Reader(mime_type, io.BytesIO(signed), store_bytes) as reader:
            state = json.loads(reader.json()).get("validation_state")
    except (StoreNotFoundError, c2pa.C2paError) as exc:
        raise GeneratedSigningError(f"{title!r}: signed manifest store not recoverable ({exc})") from exc
    if state not in ("Valid", "Trusted") or not report.verdict.is_intact:
        raise GeneratedSigningError(
            f"{title!r}: the extracted manifest store does not validate against its own file ({state})"
        )
    decoded = decode_image(data=signed, max_pixels=provenance_settings.MAX_VERIFY_PIXELS)
    with transaction.atomic():
        return StoredManifest.objects.create(
            manifest_id=report.active_manifest_label,
            watermark_id=watermark_id,
            algorithm=watermark.ALGORITHM,
            title=title[:255],
            manifest_store=store_bytes,
            manifest_json=report.manifest_store,
            declares_ai_generation=report.declares_ai_generation,
            training_mining=report.training_mining,
            mime_type=mime_type,
            sha256=hashlib.sha256(signed).hexdigest(),
            pixel_sha256=decoded.pixel_sha256,
            phash=decoded.phash,
            width=decoded.size[0],
            height=decoded.size[1],
        )


def sign_generated_image(*, data: bytes, mime_type: str, title: str, lineage: Lineage) -> SignedFile:
    """Watermark, sign and record a generated image; the returned bytes are what ships.

    The watermark payload is a fresh random 48-bit ID, unique in the repository; its base64 form is
    the manifest's c2pa.soft-binding value and the repository key, so a stripped copy still leads
    back to this manifest.
    """
    if mime_type not in _ENCODE_OPTIONS:
        raise manifests.UnsupportedMediaTypeError(mime_type)
    options = sign_options()
    policy = training_mining_policy()
    for _ in range(_PAYLOAD_ATTEMPTS):
        payload = secrets.randbits(watermark.PAYLOAD_BITS)
        watermark_id = watermark_id_from_payload(payload)
        if payload == 0 or StoredManifest.objects.filter(watermark_id=watermark_id).exists():
            continue
        marked = _embed(data=data, mime_type=mime_type, payload=payload)
        full = manifests.GenerationLineage(
            model_version=lineage.model_version,
            snapshot_id=lineage.snapshot_id,
            snapshot_sha256=lineage.snapshot_sha256,
            watermark_id=watermark_id,
            watermark_algorithm=watermark.ALGORITHM,
            parent=lineage.parent,
            recipe=lineage.recipe,
        )
        signed = manifests.sign_generated(
            data=marked, mime_type=mime_type, title=title, lineage=full, options=options, policy=policy
        )
        try:
            stored = _record(signed=signed, mime_type=mime_type, title=title, watermark_id=watermark_id)
        except IntegrityError:
            continue  # another worker took the same ID between the check and the insert
        detected = watermark.detect(Image.open(io.BytesIO(signed)))
        return SignedFile(
            data=signed,
            manifest_id=stored.manifest_id,
            watermark_id=watermark_id,
            watermark_detected=detected.found and detected.payload == payload,
        )
    raise GeneratedSigningError(f"{title!r}: no unused watermark ID after {_PAYLOAD_ATTEMPTS} attempts")


def sign_rendition_bytes(
    *, data: bytes, mime_type: str, original_data: bytes, original_mime: str, title: str, resized: bool
) -> bytes:
    """Sign a delivered rendition (JPEG, PNG, WebP or AVIF) with its original as parent ingredient.

    Renditions carry no watermark of their own: a generated original's watermark survives the
    resize, and its manifest is the rendition's parent.
    """
    original = manifests.SourceFile(data=original_data, mime_type=original_mime, title=title)
    return manifests.sign_rendition(
        data=data, mime_type=mime_type, title=title, original=original, resized=resized, options=sign_options()
    )


def reissue_published(
    *, data: bytes, mime_type: str, title: str, decisions: list[manifests.ReviewDecision], published_at
) -> bytes:
    """Re-sign a generated file at publication, recording the review decisions (steps, not people)."""
    return manifests.reissue_for_publication(
        data=data, mime_type=mime_type, title=title, review=decisions, published_at=published_at,
        options=sign_options(),
    )
