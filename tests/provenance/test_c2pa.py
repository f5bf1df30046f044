"""C2PA keys, signing, manifests and reading, with real signatures on in-memory images."""

from __future__ import annotations

import datetime as dt
import io
import json
import multiprocessing
import stat
import struct

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from provenance.c2pa import keys, manifests, reading, signing

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/avif": "AVIF"}


def encode(*, seed: int, size: int = 48, mime_type: str = "image/png") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, FORMATS[mime_type])
    return out.getvalue()


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    return keys.create_dev_credentials(directory=tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    return keys.create_dev_credentials(
        directory=tmp_path_factory.mktemp("stranger"), organization="Stranger Inc"
    )


@pytest.fixture(scope="module")
def trust(creds):
    return reading.TrustConfig.from_files(anchors=[creds.ca_cert])


@pytest.fixture(scope="module")
def options(creds):
    return manifests.SignOptions(
        signer=signing.KeyFileSigner(key_path=creds.signer_key, chain_path=creds.chain), thumbnail_edge=None
    )


def lineage(**overrides) -> manifests.GenerationLineage:
    values = dict(
        model_version="gan-7@3f2a",
        snapshot_id="snap-42",
        snapshot_sha256="ab" * 32,
        watermark_id="wm-00c0ffee",
        recipe={"seed": 7, "truncation": 0.7},
    )
    return manifests.GenerationLineage(**(values | overrides))


@pytest.fixture(scope="module")
def generated_png(options):
    return manifests.sign_generated(
        data=encode(seed=1), mime_type="image/png", title="gen.png", lineage=lineage(), options=options
    )


def actions_of(manifest: dict) -> list[dict]:
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def assertion(manifest: dict, label: str) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] == label)


# --- keys -------------------------------------------------------------------------------------


def test_dev_credentials_have_c2pa_profile_and_private_keys(creds):
    for key_path in (creds.signer_key, creds.ca_key):
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(creds.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(creds.signer_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature is True
    ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.EMAIL_PROTECTION, keys.DOCUMENT_SIGNING_EKU} <= ekus
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    leaf.verify_directly_issued_by(ca)
    assert creds.chain.read_text().count("BEGIN CERTIFICATE") == 2


def test_dev_credentials_refuse_overwrite_unless_forced(tmp_path):
    first = keys.create_dev_credentials(directory=tmp_path)
    old_key = first.signer_key.read_bytes()
    with pytest.raises(keys.KeyMaterialExistsError, match="force"):
        keys.create_dev_credentials(directory=tmp_path)
    assert first.signer_key.read_bytes() == old_key
    keys.create_dev_credentials(directory=tmp_path, force=True)
    assert first.signer_key.read_bytes() != old_key
    assert not list(tmp_path.glob(".*.tmp"))


# --- signing ----------------------------------------------------------------------------------


def test_missing_key_file_is_a_clear_config_error(tmp_path, creds):
    spec = signing.KeyFileSigner(key_path=tmp_path / "nope.pem", chain_path=creds.chain)
    with pytest.raises(signing.SigningConfigError, match="nope.pem"):
        spec.build()
    with pytest.raises(signing.SigningConfigError, match="thumbnail_edge 512"):
        signing.builder_settings(thumbnail_edge=512)


def _child_gets_own_signer(spec, parent_signer_id, result):
    signer = signing.get_signer(spec=spec)
    result.put(id(signer) != parent_signer_id and signer is signing.get_signer(spec=spec))


def test_signer_is_cached_per_process(options):
    parent = signing.get_signer(spec=options.signer)
    assert signing.get_signer(spec=options.signer) is parent
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()
    child = ctx.Process(target=_child_gets_own_signer, args=(options.signer, id(parent), result))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert result.get(timeout=5) is True


def test_out_of_process_callback_signer_verifies_as_trusted(creds, trust):
    callback = signing.CallbackSigner(
        sign=signing.SubprocessKeySigner(key_path=creds.signer_key), chain_path=creds.chain
    )
    signed = manifests.sign_generated(
        data=encode(seed=3),
        mime_type="image/png",
        title="kms.png",
        lineage=lineage(),
        options=manifests.SignOptions(signer=callback, thumbnail_edge=None),
    )
    assert (
        reading.read_manifest(data=signed, mime_type="image/png", trust=trust).verdict
        == reading.Verdict.TRUSTED
    )


def test_external_signer_failure_is_reported(tmp_path):
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    with pytest.raises(signing.ExternalSignerError, match="bad.pem"):
        signing.SubprocessKeySigner(key_path=bad_key)(b"data")


# --- generated media --------------------------------------------------------------------------


def test_generated_manifest_declares_lineage(generated_png, trust):
    report = reading.read_manifest(data=generated_png, mime_type="image/png", trust=trust)
    assert report.verdict == reading.Verdict.TRUSTED, report.failures
    manifest = report.active_manifest
    created, watermarked = actions_of(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == manifests.TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "BrandForge", "version": "gan-7@3f2a"}
    assert watermarked["action"] == "c2pa.watermarked.bound"
    (snapshot,) = manifest["ingredients"]
    assert snapshot["relationship"] == "inputTo" and "snap-42" in snapshot["title"]
    assert created["parameters"]["com.brandforge.recipe"] == {"seed": 7, "truncation": 0.7}
    with c2pa.Reader("image/png", io.BytesIO(generated_png)) as reader:
        record = io.BytesIO()
        reader.resource_to_stream(snapshot["data"]["identifier"], record)
    assert json.loads(record.getvalue()) == {"snapshot_id": "snap-42", "sha256": "ab" * 32}
    assert report.declares_ai_generation is True
    assert report.training_mining == dict.fromkeys(
        ("ai_generative_training", "ai_training", "ai_inference", "data_mining"), "notAllowed"
    )
    assert [(b.algorithm, b.value) for b in report.soft_bindings] == [("com.brandforge.wm.v1", "wm-00c0ffee")]
    assert report.signer_common_name == "BrandForge Development C2PA Signer"
    json.dumps(report.as_json())


def test_without_anchors_our_signature_is_valid_but_untrusted(generated_png):
    report = reading.read_manifest(data=generated_png, mime_type="image/png")
    assert report.verdict == reading.Verdict.VALID_UNTRUSTED
    assert "signingCredential.untrusted" in {f.code for f in report.failures}


def test_generated_with_parent_opens_it_and_policy_is_configurable(options, trust):
    parent = manifests.SourceFile(data=encode(seed=9), mime_type="image/png", title="source.png")
    policy = manifests.TrainingMiningPolicy(
        ai_inference="allowed", data_mining="constrained", constraint_info="ask"
    )
    signed = manifests.sign_generated(
        data=encode(seed=10),
        mime_type="image/png",
        title="inverted.png",
        lineage=lineage(parent=parent),
        options=options,
        policy=policy,
    )
    report = reading.read_manifest(data=signed, trust=trust)
    assert report.verdict == reading.Verdict.TRUSTED, report.failures
    assert [a["action"] for a in actions_of(report.active_manifest)][:2] == ["c2pa.opened", "c2pa.edited"]
    relationships = {i["relationship"] for i in report.active_manifest["ingredients"]}
    assert relationships == {"parentOf", "inputTo"}
    assert report.training_mining["ai_inference"] == "allowed"
    assert report.training_mining["data_mining"] == "constrained"
    assert report.declares_ai_generation is True
    with pytest.raises(manifests.ManifestError, match="maybe"):
        manifests.TrainingMiningPolicy(ai_training="maybe")


# --- renditions -------------------------------------------------------------------------------


@pytest.mark.parametrize("mime_type", sorted(FORMATS))
def test_rendition_in_each_delivery_format(mime_type, generated_png, options, trust):
    rendition = encode(seed=1, size=24, mime_type=mime_type)
    original = manifests.SourceFile(data=generated_png, mime_type="image/png", title="gen.png")
    signed = manifests.sign_rendition(
        data=rendition, mime_type=mime_type, title="r", original=original, resized=True, options=options
    )
    assert Image.open(io.BytesIO(signed)).size == (24, 24)
    report = reading.read_manifest(data=signed, mime_type=mime_type, trust=trust)
    assert report.verdict == reading.Verdict.TRUSTED, report.failures
    names = [a["action"] for a in actions_of(report.active_manifest)]
    expected = ["c2pa.opened", "c2pa.resized"] + (["c2pa.transcoded"] if mime_type != "image/png" else [])
    assert names == expected
    (parent,) = report.active_manifest["ingredients"]
    assert parent["relationship"] == "parentOf" and parent["title"] == "gen.png"
    # AI origin and permissions are inherited through the parent manifest.
    assert report.declares_ai_generation is True
    assert report.training_mining["ai_training"] == "notAllowed"


def test_rendition_must_change_something_and_format_must_be_signable(options):
    original = manifests.SourceFile(data=encode(seed=1), mime_type="image/png", title="o.png")
    with pytest.raises(manifests.ManifestError, match="neither resized nor transcoded"):
        manifests.sign_rendition(
            data=encode(seed=1),
            mime_type="image/png",
            title="r",
            original=original,
            resized=False,
            options=options,
        )
    with pytest.raises(manifests.UnsupportedMediaTypeError, match="image/bmp"):
        manifests.sign_rendition(
            data=b"", mime_type="image/bmp", title="r", original=original, resized=True, options=options
        )


@pytest.mark.parametrize("mime_type", ["image/png", "image/webp"])
def test_thumbnail_is_small_jpeg_or_absent(mime_type, options):
    big = encode(seed=4, size=600, mime_type=mime_type)
    with_thumb = manifests.SignOptions(signer=options.signer, thumbnail_edge=256)
    signed = manifests.sign_generated(
        data=big, mime_type=mime_type, title="t", lineage=lineage(), options=with_thumb
    )
    with c2pa.Reader(mime_type, io.BytesIO(signed)) as reader:
        thumb = reader.get_active_manifest()["thumbnail"]
        out = io.BytesIO()
        reader.resource_to_stream(thumb["identifier"], out)
    assert thumb["format"] == "image/jpeg"
    assert 0 < max(Image.open(io.BytesIO(out.getvalue())).size) <= 256
    without = manifests.sign_generated(
        data=big, mime_type=mime_type, title="t", lineage=lineage(), options=options
    )
    assert "thumbnail" not in reading.read_manifest(data=without).active_manifest


# --- publication ------------------------------------------------------------------------------


def test_publication_reissue_records_review_and_keeps_bindings(generated_png, options, trust):
    when = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    review = [
        manifests.ReviewDecision(
            step="brand", decision="approved", decided_at=when, decided_by_role="brand-team"
        ),
        manifests.ReviewDecision(step="legal", decision="approved", decided_at=when + dt.timedelta(hours=2)),
    ]
    published = manifests.reissue_for_publication(
        data=generated_png,
        mime_type="image/png",
        title="gen.png",
        review=review,
        published_at=when,
        options=options,
    )
    report = reading.read_manifest(data=published, trust=trust)
    assert report.verdict == reading.Verdict.TRUSTED, report.failures
    recorded = assertion(report.active_manifest, manifests.REVIEW_LABEL)
    assert [s["step"] for s in recorded["steps"]] == ["brand", "legal"]
    assert recorded["steps"][1]["decided_at"] == "2025-03-01T14:00:00+00:00"
    assert "@" not in json.dumps(recorded)
    assert "c2pa.published" in [a["action"] for a in actions_of(report.active_manifest)]
    assert assertion(report.active_manifest, "c2pa.soft-binding")["blocks"][0]["value"] == "wm-00c0ffee"
    assert report.declares_ai_generation is True
    assert len(report.manifest_store["manifests"]) == 2


def test_publication_refuses_unsigned_file_and_email_roles(options):
    when = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    ok = [manifests.ReviewDecision(step="s", decision="approved", decided_at=when)]
    with pytest.raises(manifests.NothingToReissueError, match="no C2PA manifest"):
        manifests.reissue_for_publication(
            data=encode(seed=5),
            mime_type="image/png",
            title="x",
            review=ok,
            published_at=when,
            options=options,
        )
    leaky = manifests.ReviewDecision(
        step="s", decision="ok", decided_at=when, decided_by_role="ann@example.com"
    )
    with pytest.raises(manifests.ManifestError, match="e-mail"):
        leaky.as_json()


# --- bad input --------------------------------------------------------------------------------


def png_chunk(data: bytes, kind: bytes) -> tuple[int, int]:
    """Offset and length of the first PNG chunk of `kind` (offset of its length field)."""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == kind:
            return pos, length
        pos += 12 + length
    raise AssertionError(f"no {kind!r} chunk")


def test_unknown_ca_is_valid_but_untrusted(stranger, trust):
    spec = signing.KeyFileSigner(key_path=stranger.signer_key, chain_path=stranger.chain)
    signed = manifests.sign_generated(
        data=encode(seed=6),
        mime_type="image/png",
        title="s",
        lineage=lineage(),
        options=manifests.SignOptions(signer=spec, thumbnail_edge=None),
    )
    report = reading.read_manifest(data=signed, trust=trust)
    assert report.verdict == reading.Verdict.VALID_UNTRUSTED
    assert "unknown certificate authority" in report.summary
    assert report.signer_issuer == "Stranger Inc"


def test_bad_inputs_get_verdicts_not_exceptions(generated_png, trust):
    start, length = png_chunk(generated_png, b"caBX")
    corrupted = bytearray(generated_png)
    middle = start + 8 + length // 3
    corrupted[middle : middle + 32] = bytes(b ^ 0xFF for b in corrupted[middle : middle + 32])

    idat, idat_len = png_chunk(generated_png, b"IDAT")
    tampered = bytearray(generated_png)
    tampered[idat + 8 + idat_len // 2] ^= 0x01

    verdicts = {
        name: reading.read_manifest(data=bytes(data), mime_type="image/png", trust=trust).verdict
        for name, data in {
            "none": encode(seed=1),
            "garbage": b"definitely not an image" * 4,
            "corrupted": corrupted,
            "tampered": tampered,
            "truncated": generated_png[: len(generated_png) // 2],
        }.items()
    }
    assert verdicts == {
        "none": reading.Verdict.NO_MANIFEST,
        "garbage": reading.Verdict.UNREADABLE_FILE,
        "corrupted": reading.Verdict.CORRUPTED_MANIFEST,
        "tampered": reading.Verdict.INVALID,
        "truncated": reading.Verdict.UNREADABLE_FILE,
    }


def test_two_manifest_stores_conflict(generated_png, stranger, trust):
    spec = signing.KeyFileSigner(key_path=stranger.signer_key, chain_path=stranger.chain)
    other = manifests.sign_generated(
        data=encode(seed=1),
        mime_type="image/png",
        title="s",
        lineage=lineage(watermark_id="other"),
        options=manifests.SignOptions(signer=spec, thumbnail_edge=None),
    )
    ours_at, ours_len = png_chunk(generated_png, b"caBX")
    theirs_at, theirs_len = png_chunk(other, b"caBX")
    end = ours_at + 12 + ours_len
    both = generated_png[:end] + other[theirs_at : theirs_at + 12 + theirs_len] + generated_png[end:]
    report = reading.read_manifest(data=both, trust=trust)
    assert report.verdict == reading.Verdict.CONFLICTING_MANIFESTS
    assert not report.verdict.is_intact


def test_unreadable_path(tmp_path):
    report = reading.read_manifest_file(path=tmp_path / "missing.png")
    assert report.verdict == reading.Verdict.UNREADABLE_FILE and "missing.png" in report.summary


def test_provenance_init_command_writes_once(tmp_path):
    from django.core.management.base import CommandError

    from provenance.management.commands.provenance_init import Command

    options = {"directory": tmp_path / "keys", "force": False, "organization": "Cmd Test"}
    Command(stdout=io.StringIO()).handle(**options)
    assert stat.S_IMODE((tmp_path / "keys" / keys.SIGNER_KEY_NAME).stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="force"):
        Command(stdout=io.StringIO()).handle(**options)


def test_oddly_shaped_assertions_in_a_valid_manifest_do_not_crash(options, trust):
    # c2pa itself rejects malformed actions and soft bindings when signing; CAWG bodies pass through.
    definition = {
        "claim_generator_info": [{"name": "elsewhere", "version": "1"}],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            },
            {"label": "cawg.training-mining", "data": {"entries": ["notAllowed"]}},
        ],
    }
    out = io.BytesIO()
    c2pa.Builder(definition).sign(
        signing.get_signer(spec=options.signer), "image/png", io.BytesIO(encode(seed=8)), out
    )
    report = reading.read_manifest(data=out.getvalue(), trust=trust)
    assert report.verdict == reading.Verdict.TRUSTED
    assert (report.declares_ai_generation, report.training_mining, report.soft_bindings) == (False, {}, ())
