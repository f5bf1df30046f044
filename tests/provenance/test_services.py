"""Provenance services: signer configuration, generated-media signing, renditions, ingest reading."""
# ruff: noqa: F811  (pytest fixtures imported from services_fixtures are redefined as arguments)

from __future__ import annotations

import io

import pytest
from PIL import Image

from provenance import watermark
from provenance.c2pa import manifests, reading
from provenance.c2pa.signing import CallbackSigner, KeyFileSigner, SubprocessKeySigner
from provenance.models_repository import StoredManifest
from provenance.services import fingerprints, incoming, jumbf, signing
from tests.provenance.services_fixtures import (  # noqa: F401 (fixtures)
    FORMATS,
    LINEAGE,
    creds,
    encode,
    generated_like,
    provenance_keys,
    stranger,
)

pytestmark = pytest.mark.django_db


def actions_of(manifest: dict) -> list[str]:
    data = next(a["data"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    return [a["action"] for a in data["actions"]]


def test_signer_spec_defaults_to_the_key_dir_and_follows_settings(settings, creds, tmp_path):
    spec = signing.signer_spec()
    assert spec == KeyFileSigner(key_path=creds.signer_key, chain_path=creds.chain)
    settings.PROVENANCE_SIGNER_KEY = str(tmp_path / "kms-less.pem")
    settings.PROVENANCE_SIGNING_ALGORITHM = "es384"
    spec = signing.signer_spec()
    assert (spec.key_path, spec.algorithm) == (tmp_path / "kms-less.pem", "es384")
    settings.PROVENANCE_SIGNER_CALLBACK = "os.path.join"
    assert isinstance(signing.signer_spec(), CallbackSigner)
    settings.PROVENANCE_SIGNER_CALLBACK = "provenance.no_such_module.sign"
    with pytest.raises(signing.ProvenanceConfigError, match="no_such_module"):
        signing.signer_spec()


def test_trust_anchors_local_ca_and_missing_file(settings, creds, tmp_path):
    assert creds.ca_cert.read_text() in signing.trust_config().anchors_pem
    settings.PROVENANCE_TRUST_LOCAL_CA = False
    assert signing.trust_config().anchors_pem == ""
    settings.PROVENANCE_TRUST_ANCHORS = [str(creds.ca_cert)]
    assert signing.trust_config().anchors_pem == creds.ca_cert.read_text()
    settings.PROVENANCE_TRUST_ANCHORS = [str(tmp_path / "gone.pem")]
    with pytest.raises(signing.ProvenanceConfigError, match="gone.pem"):
        signing.trust_config()


@pytest.mark.parametrize("mime_type", ["image/png", "image/jpeg"])
def test_generated_image_is_watermarked_signed_and_stored(mime_type):
    source = encode(generated_like(seed=1), mime_type)
    signed = signing.sign_generated_image(data=source, mime_type=mime_type, title="variant 1", lineage=LINEAGE)
    assert signed.watermark_detected
    found = watermark.detect(Image.open(io.BytesIO(signed.data)))
    assert fingerprints.watermark_id_from_payload(found.payload) == signed.watermark_id

    report = reading.read_manifest(data=signed.data, mime_type=mime_type, trust=signing.trust_config())
    assert report.verdict == reading.Verdict.TRUSTED
    assert report.declares_ai_generation
    assert report.active_manifest_label == signed.manifest_id
    assert [(b.algorithm, b.value) for b in report.soft_bindings] == [(watermark.ALGORITHM, signed.watermark_id)]
    actions = actions_of(report.active_manifest)
    assert "c2pa.watermarked.bound" in actions
    assert report.training_mining["ai_training"] == "notAllowed"

    stored = StoredManifest.objects.get(watermark_id=signed.watermark_id)
    assert stored.manifest_id == signed.manifest_id
    assert stored.declares_ai_generation and stored.mime_type == mime_type
    assert bytes(stored.manifest_store) == jumbf.extract_store(data=signed.data, mime_type=mime_type)
    decoded = fingerprints.decode_image(data=signed.data, max_pixels=10**7)
    assert (stored.phash, stored.pixel_sha256) == (decoded.phash, decoded.pixel_sha256)


def test_each_generated_image_gets_its_own_watermark_id():
    ids = {
        signing.sign_generated_image(
            data=encode(generated_like(seed=s)), mime_type="image/png", title=f"v{s}", lineage=LINEAGE
        ).watermark_id
        for s in (2, 3)
    }
    assert len(ids) == 2 and StoredManifest.objects.count() == 2


def test_generated_image_too_small_for_the_watermark_is_refused():
    with pytest.raises(signing.GeneratedSigningError, match="watermark"):
        signing.sign_generated_image(
            data=encode(generated_like(seed=4, size=64)), mime_type="image/png", title="tiny", lineage=LINEAGE
        )
    assert not StoredManifest.objects.exists()


def test_callback_signer_out_of_process_is_trusted_with_anchors_and_untrusted_without(settings, creds):
    # The key stays in another process, as with a KMS: this one holds only the chain.
    settings.PROVENANCE_SIGNER_CALLBACK = SubprocessKeySigner(key_path=creds.signer_key)
    settings.PROVENANCE_SIGNER_KEY = "/nonexistent/never-read.pem"
    signed = signing.sign_generated_image(
        data=encode(generated_like(seed=5)), mime_type="image/png", title="kms", lineage=LINEAGE
    )
    trusted = reading.read_manifest(data=signed.data, trust=signing.trust_config())
    assert trusted.verdict == reading.Verdict.TRUSTED
    settings.PROVENANCE_TRUST_LOCAL_CA = False
    untrusted = reading.read_manifest(data=signed.data, trust=signing.trust_config())
    assert untrusted.verdict == reading.Verdict.VALID_UNTRUSTED


@pytest.mark.parametrize("mime_type", sorted(FORMATS))
def test_rendition_signed_with_original_as_parent(mime_type):
    original = encode(generated_like(seed=6), "image/png")
    small = encode(generated_like(seed=6).resize((128, 128)), mime_type)
    signed = signing.sign_rendition_bytes(
        data=small, mime_type=mime_type, original_data=original, original_mime="image/png", title="r", resized=True
    )
    report = reading.read_manifest(data=signed, mime_type=mime_type, trust=signing.trust_config())
    assert report.verdict == reading.Verdict.TRUSTED
    manifest = report.active_manifest
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]
    actions = actions_of(manifest)
    assert "c2pa.resized" in actions
    assert ("c2pa.transcoded" in actions) == (mime_type != "image/png")


def test_jumbf_extraction_for_every_format_matches_what_c2pa_validates():
    for mime_type in FORMATS:
        signed = signing.sign_rendition_bytes(
            data=encode(generated_like(seed=7, size=96), mime_type),
            mime_type=mime_type,
            original_data=encode(generated_like(seed=7)),
            original_mime="image/png",
            title="x",
            resized=True,
        )
        store = jumbf.extract_store(data=signed, mime_type=mime_type)
        assert store[4:8] == b"jumb", mime_type
    with pytest.raises(jumbf.StoreNotFoundError, match="no embedded"):
        jumbf.extract_store(data=encode(generated_like(seed=7)), mime_type="image/png")


def test_read_incoming_reports_permissions_and_ai(settings):
    settings.PROVENANCE_TRAINING_MINING_DEFAULT = "allowed"
    allowed = signing.sign_generated_image(
        data=encode(generated_like(seed=8)), mime_type="image/png", title="ok", lineage=LINEAGE
    )
    credentials = incoming.read_incoming(data=allowed.data, mime_type="image/png")
    assert credentials.verdict == "trusted" and credentials.validation_state == "Trusted"
    assert credentials.declares_ai_generation is True
    assert credentials.training_mining_allowed is True
    assert credentials.manifest_store["active_manifest"] == allowed.manifest_id

    settings.PROVENANCE_TRAINING_MINING_DEFAULT = "constrained"
    constrained = signing.sign_generated_image(
        data=encode(generated_like(seed=9)), mime_type="image/png", title="c", lineage=LINEAGE
    )
    assert incoming.read_incoming(data=constrained.data, mime_type="image/png").training_mining_allowed is False

    plain = incoming.read_incoming(data=encode(generated_like(seed=10)), mime_type="image/png")
    assert (plain.verdict, plain.training_mining_allowed, plain.declares_ai_generation) == ("no_manifest", None, False)


def test_a_broken_manifest_cannot_grant_training_but_can_refuse():
    def report(verdict, use):
        return reading.ManifestReport(verdict=verdict, summary="", training_mining={"ai_training": use})

    assert incoming.training_allowed(report(reading.Verdict.INVALID, "allowed")) is None
    assert incoming.training_allowed(report(reading.Verdict.INVALID, "notAllowed")) is False
    assert incoming.training_allowed(report(reading.Verdict.VALID_UNTRUSTED, "allowed")) is True


def test_watermark_id_round_trip_and_bad_values():
    assert fingerprints.payload_from_watermark_id(fingerprints.watermark_id_from_payload(2**48 - 1)) == 2**48 - 1
    for bad in ("not base64!", "AAAA"):
        with pytest.raises(ValueError, match="soft-binding value"):
            fingerprints.payload_from_watermark_id(bad)
    assert manifests.WATERMARK_ALGORITHM == watermark.ALGORITHM
