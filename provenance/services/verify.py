"""Verification: any file in, a verdict a person can read (and JSON) out.

Steps: the embedded manifest → if it is absent or broken, the watermark → the manifest repository
→ the stored manifest validated against this file → failing all that, a perceptual-hash search.
Bad input of any kind (truncated, corrupted, conflicting, not an image) ends in a verdict, never
an exception.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
from dataclasses import dataclass, field

import c2pa

from provenance import watermark
from provenance.c2pa import reading
from provenance.c2pa.process_local import ProcessLocalCache
from provenance.conf import provenance_settings
from provenance.models_repository import StoredManifest
from provenance.services import repository
from provenance.services.fingerprints import (
    DecodedImage,
    ImageDecodeError,
    decode_image,
    phash_distance,
    similarity_percent,
    watermark_id_from_payload,
)
from provenance.services.signing import trust_config

# Failures that only say the bytes differ from the signed ones: expected for a stripped copy.
_HARD_BINDING_FAILURES = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.collectionHash.mismatch",
    }
)
_NEAR_MATCH_LIMIT = 5


class Outcome(enum.StrEnum):
    VERIFIED = "verified"  # the embedded manifest validates
    RECOVERED = "recovered"  # watermark → stored manifest; the pixels are the signed ones
    RECOVERED_ALTERED = "recovered_altered"  # watermark → stored manifest; the content changed
    UNKNOWN_WATERMARK = "unknown_watermark"  # our watermark, but no manifest stored for its ID
    NEAR_MATCH = "near_match"  # no credential; looks like an image we signed
    INVALID = "invalid"  # a manifest is present but cannot be relied on; nothing recovered
    NO_CREDENTIAL = "no_credential"
    UNREADABLE = "unreadable"  # not a decodable image and no readable manifest


@dataclass(frozen=True)
class WatermarkFinding:
    found: bool
    watermark_id: str | None
    confidence: float
    reason: str


@dataclass(frozen=True)
class Recovery:
    """The stored manifest a watermark led to, checked against this file."""

    manifest_id: str
    title: str
    signature_valid: bool
    trusted: bool
    bytes_match: bool  # the file is byte-for-byte what was signed (hard binding holds)
    pixels_match: bool  # same decoded pixels: only the metadata was removed
    similarity: int  # perceptual-hash similarity 0..100
    signed_size: tuple[int, int]
    problems: tuple[str, ...] = ()

    @property
    def content_unchanged(self) -> bool:
        return self.bytes_match or self.pixels_match


@dataclass(frozen=True)
class Match:
    manifest_id: str
    title: str
    similarity: int


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    summary: str
    sha256: str
    embedded: reading.ManifestReport
    trusted: bool | None = None
    declares_ai_generation: bool | None = None
    training_mining: dict[str, str] = field(default_factory=dict)
    watermark: WatermarkFinding | None = None
    recovery: Recovery | None = None
    near_matches: tuple[Match, ...] = ()
    in_repository: bool = False

    def as_json(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "summary": self.summary,
            "sha256": self.sha256,
            "trusted": self.trusted,
            "declares_ai_generation": self.declares_ai_generation,
            "training_mining": dict(self.training_mining),
            "embedded_manifest": self.embedded.as_json(),
            "in_repository": self.in_repository,
            "watermark": vars(self.watermark) if self.watermark else None,
            "recovery": (
                {**vars(self.recovery), "signed_size": list(self.recovery.signed_size),
                 "problems": list(self.recovery.problems),
                 "content_unchanged": self.recovery.content_unchanged}
                if self.recovery
                else None
            ),
            "near_matches": [vars(m) for m in self.near_matches],
        }


_contexts: ProcessLocalCache[c2pa.Context] = ProcessLocalCache()


def _context(trust: reading.TrustConfig) -> c2pa.Context:
    return _contexts.get(trust, lambda: c2pa.Context.from_dict(trust.settings()))


def _stored_report(*, stored: StoredManifest, data: bytes, mime_type: str, trust: reading.TrustConfig) -> dict:
    with c2pa.Reader(mime_type, io.BytesIO(data), bytes(stored.manifest_store), _context(trust)) as reader:
        return json.loads(reader.json())


def _recover(
    *, stored: StoredManifest, data: bytes, decoded: DecodedImage, trust: reading.TrustConfig
) -> Recovery:
    problems: tuple[str, ...] = ()
    try:
        store = _stored_report(stored=stored, data=data, mime_type=decoded.mime_type, trust=trust)
    except (c2pa.C2paError, ValueError) as exc:
        store, problems = {}, (f"the stored manifest could not be read against this file: {exc}",)
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    successes = {r.get("code") for r in results.get("success", [])}
    failures = {r.get("code") for r in results.get("failure", [])}
    serious = failures - _HARD_BINDING_FAILURES - {"signingCredential.untrusted"}
    problems += tuple(sorted(str(code) for code in serious))
    return Recovery(
        manifest_id=stored.manifest_id,
        title=stored.title,
        signature_valid="claimSignature.validated" in successes and not problems,
        trusted="signingCredential.trusted" in successes,
        bytes_match=store.get("validation_state") in ("Valid", "Trusted"),
        pixels_match=decoded.pixel_sha256 == stored.pixel_sha256,
        similarity=similarity_percent(phash_distance(decoded.phash, stored.phash)),
        signed_size=(stored.width, stored.height),
        problems=problems,
    )


def _near_matches(decoded: DecodedImage, *, exclude: str | None = None) -> tuple[Match, ...]:
    found = repository.near_matches(
        phash=decoded.phash, max_distance=provenance_settings.NEAR_MATCH_DISTANCE, limit=_NEAR_MATCH_LIMIT
    )
    return tuple(
        Match(manifest_id=m.manifest.manifest_id, title=m.manifest.title, similarity=m.similarity)
        for m in found
        if m.manifest.manifest_id != exclude
    )


def _detect(decoded: DecodedImage) -> WatermarkFinding:
    try:
        found = watermark.detect(decoded.image)
    except watermark.WatermarkError as exc:
        return WatermarkFinding(found=False, watermark_id=None, confidence=0.0, reason=str(exc))
    value = watermark_id_from_payload(found.payload) if found.found and found.payload is not None else None
    return WatermarkFinding(
        found=value is not None, watermark_id=value, confidence=round(float(found.confidence), 2), reason=found.reason
    )


def _embedded_sentence(report: reading.ManifestReport) -> str:
    return f"Embedded Content Credentials: {report.summary}."


def _claims(*, ai: bool, trusted: bool) -> str:
    who = "trusted signer" if trusted else "signer not on the trust list"
    return f"{who}; {'declares AI generation' if ai else 'no AI generation declared'}"


def _verified(report: reading.ManifestReport, sha256: str) -> Verdict:
    trusted = report.verdict == reading.Verdict.TRUSTED
    ai = report.declares_ai_generation
    label = report.active_manifest_label
    in_repository = bool(label) and repository.by_manifest_id(manifest_id=label) is not None
    signer = report.signer_common_name or report.signer_issuer or "unknown signer"
    summary = (
        f"Content Credentials valid, {'trusted' if trusted else 'untrusted'}"
        f"{', AI-generated' if ai else ''}: signed by {signer}. {report.summary[0].upper()}{report.summary[1:]}."
    )
    return Verdict(
        outcome=Outcome.VERIFIED,
        summary=summary,
        sha256=sha256,
        embedded=report,
        trusted=trusted,
        declares_ai_generation=ai,
        training_mining=dict(report.training_mining),
        in_repository=in_repository,
    )


def _recovered(
    *, report: reading.ManifestReport, sha256: str, found: WatermarkFinding, stored: StoredManifest, recovery: Recovery,
    decoded: DecodedImage,
) -> Verdict:
    lead = "" if report.verdict == reading.Verdict.NO_MANIFEST else _embedded_sentence(report) + " "
    if not recovery.signature_valid:
        detail = "; ".join(recovery.problems) or "signature not validated"
        summary = (
            f"{lead}Watermark {found.watermark_id} leads to stored manifest {stored.manifest_id}, "
            f"but that manifest does not validate ({detail})."
        )
        return Verdict(
            outcome=Outcome.INVALID, summary=summary, sha256=sha256, embedded=report, watermark=found,
            recovery=recovery,
        )
    claims = _claims(ai=stored.declares_ai_generation, trusted=recovery.trusted)
    if recovery.content_unchanged:
        how = "the file is the signed one" if recovery.bytes_match else "pixels identical to the signed image"
        outcome = Outcome.RECOVERED
        summary = f"{lead}Credential recovered from the watermark ({claims}); {how}, only the metadata was removed."
    else:
        width, height = decoded.size
        outcome = Outcome.RECOVERED_ALTERED
        summary = (
            f"{lead}Credential recovered; content altered since signing ({claims}). "
            f"Perceptual similarity {recovery.similarity}% to the signed image "
            f"({recovery.signed_size[0]}×{recovery.signed_size[1]} signed, {width}×{height} here)."
        )
    return Verdict(
        outcome=outcome,
        summary=summary,
        sha256=sha256,
        embedded=report,
        trusted=recovery.trusted,
        declares_ai_generation=stored.declares_ai_generation,
        training_mining=dict(stored.training_mining),
        watermark=found,
        recovery=recovery,
        in_repository=True,
    )


def _not_recovered(
    *, report: reading.ManifestReport, sha256: str, found: WatermarkFinding, decoded: DecodedImage
) -> Verdict:
    matches = _near_matches(decoded)
    lead = "" if report.verdict == reading.Verdict.NO_MANIFEST else _embedded_sentence(report) + " "
    nearest = (
        f" It resembles {len(matches)} image(s) we signed; closest: {matches[0].manifest_id} "
        f"({matches[0].similarity}% perceptual similarity), a resemblance, not a credential."
        if matches
        else " No image in the manifest repository resembles it."
    )
    if found.found:
        outcome = Outcome.UNKNOWN_WATERMARK
        summary = f"{lead}A BrandForge watermark ({found.watermark_id}) is present, but no manifest is stored for it."
    elif report.verdict != reading.Verdict.NO_MANIFEST:
        outcome = Outcome.INVALID
        summary = f"{lead}No watermark was found to recover a credential."
    else:
        outcome = Outcome.NEAR_MATCH if matches else Outcome.NO_CREDENTIAL
        summary = "No credential found: no embedded manifest and no watermark."
    return Verdict(
        outcome=outcome, summary=summary + nearest, sha256=sha256, embedded=report, watermark=found,
        near_matches=matches,
    )


def verify_file(*, data: bytes, mime_type: str | None = None, trust: reading.TrustConfig | None = None) -> Verdict:
    """Judge `data`: its embedded credential, or one recovered through watermark or resemblance."""
    trust = trust or trust_config()
    sha256 = hashlib.sha256(data).hexdigest()
    report = reading.read_manifest(data=data, mime_type=mime_type, trust=trust)
    if report.verdict.is_intact:
        return _verified(report, sha256)
    try:
        decoded = decode_image(data=data, max_pixels=provenance_settings.MAX_VERIFY_PIXELS)
    except ImageDecodeError as exc:
        if report.verdict in (reading.Verdict.NO_MANIFEST, reading.Verdict.UNREADABLE_FILE):
            return Verdict(outcome=Outcome.UNREADABLE, summary=f"Cannot verify: {exc}.", sha256=sha256, embedded=report)
        return Verdict(
            outcome=Outcome.INVALID,
            summary=f"{_embedded_sentence(report)} The image itself cannot be decoded ({exc}).",
            sha256=sha256,
            embedded=report,
        )
    found = _detect(decoded)
    stored = repository.by_watermark(watermark_id=found.watermark_id) if found.found else None
    if stored is None:
        return _not_recovered(report=report, sha256=sha256, found=found, decoded=decoded)
    recovery = _recover(stored=stored, data=data, decoded=decoded, trust=trust)
    return _recovered(report=report, sha256=sha256, found=found, stored=stored, recovery=recovery, decoded=decoded)
