"""Manifests BrandForge signs: generated media, delivered renditions, publication re-issues.

Each public function takes the file's bytes and MIME type plus what the manifest must say, and
returns the signed file's bytes. Signers come from `signing.get_signer`, so callers in Celery tasks
pass a spec, never a live signer across processes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import c2pa

from .reading import TRAINING_MINING_LABELS, read_manifest
from .signing import SignerSpec, get_builder_context, get_signer

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
WATERMARK_ALGORITHM = "com.brandforge.wm.v1"
REVIEW_LABEL = "com.brandforge.review"
PRODUCT_NAME = "BrandForge"
SIGNABLE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/avif"})
PERMISSIONS = frozenset({"allowed", "notAllowed", "constrained"})


class ManifestError(Exception):
    """A manifest could not be built or signed for the given input."""


class UnsupportedMediaTypeError(ManifestError):
    def __init__(self, mime_type: str) -> None:
        super().__init__(
            f"MIME type {mime_type!r}: cannot carry a signed manifest here; "
            f"supported: {sorted(SIGNABLE_MIME_TYPES)}"
        )


class NothingToReissueError(ManifestError):
    """A publication re-issue needs the file's current, intact manifest, and the file has none."""


@dataclass(frozen=True)
class SourceFile:
    """A file that becomes an ingredient: the original of a rendition, or a generated asset's parent."""

    data: bytes
    mime_type: str
    title: str


@dataclass(frozen=True)
class TrainingMiningPolicy:
    """CAWG training-and-mining permissions; each is "allowed", "notAllowed" or "constrained"."""

    ai_generative_training: str = "notAllowed"
    ai_training: str = "notAllowed"
    ai_inference: str = "notAllowed"
    data_mining: str = "notAllowed"
    constraint_info: str | None = None

    def __post_init__(self) -> None:
        for name in ("ai_generative_training", "ai_training", "ai_inference", "data_mining"):
            use = getattr(self, name)
            if use not in PERMISSIONS:
                raise ManifestError(f"training-mining {name}={use!r}: must be one of {sorted(PERMISSIONS)}")

    def assertion(self) -> dict:
        entries = {}
        for name in ("ai_generative_training", "ai_training", "ai_inference", "data_mining"):
            entry: dict = {"use": getattr(self, name)}
            if entry["use"] == "constrained" and self.constraint_info:
                entry["constraint_info"] = self.constraint_info
            entries[f"cawg.{name}"] = entry
        return {"label": "cawg.training-mining", "data": {"entries": entries}}


@dataclass(frozen=True)
class GenerationLineage:
    """Where a generated image came from: the model, its training snapshot, the watermark."""

    model_version: str
    snapshot_id: str
    snapshot_sha256: str
    watermark_id: str
    watermark_algorithm: str = WATERMARK_ALGORITHM
    parent: SourceFile | None = None
    # The variant recipe (seed, truncation, ...) as plain JSON values, for reproducibility.
    recipe: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewDecision:
    """One workflow step's outcome. Roles or group names only: no personal e-mails in manifests."""

    step: str
    decision: str
    decided_at: dt.datetime
    decided_by_role: str | None = None

    def as_json(self) -> dict:
        if self.decided_at.tzinfo is None:
            raise ManifestError(f"review step {self.step!r}: decided_at must be timezone-aware")
        if self.decided_by_role and "@" in self.decided_by_role:
            raise ManifestError(f"review step {self.step!r}: decided_by_role looks like an e-mail address")
        data = {"step": self.step, "decision": self.decision, "decided_at": self.decided_at.isoformat()}
        if self.decided_by_role:
            data["decided_by_role"] = self.decided_by_role
        return data


@dataclass(frozen=True)
class SignOptions:
    """What every signature shares: who signs, and the thumbnail (≤ 256 px long edge, or None)."""

    signer: SignerSpec
    thumbnail_edge: int | None = 128


def _software_version() -> str:
    try:
        return version("brandforge")
    except PackageNotFoundError:
        return "unknown"


def _definition(*, title: str, mime_type: str, actions: list[dict], assertions: list[dict]) -> dict:
    return {
        "claim_generator_info": [{"name": PRODUCT_NAME, "version": _software_version()}],
        "title": title,
        "format": mime_type,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *assertions],
    }


def _check_mime(mime_type: str) -> None:
    if mime_type not in SIGNABLE_MIME_TYPES:
        raise UnsupportedMediaTypeError(mime_type)


def _sign(*, builder: c2pa.Builder, options: SignOptions, data: bytes, mime_type: str) -> bytes:
    out = io.BytesIO()
    try:
        builder.sign(get_signer(spec=options.signer), mime_type, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise ManifestError(f"signing {mime_type} ({len(data)} bytes) failed: {exc}") from exc
    return out.getvalue()


def _new_builder(*, definition: dict, options: SignOptions) -> c2pa.Builder:
    context = get_builder_context(thumbnail_edge=options.thumbnail_edge)
    return c2pa.Builder(definition, context=context)


def _add_parent(builder: c2pa.Builder, parent: SourceFile) -> None:
    try:
        builder.add_ingredient(
            {"title": parent.title, "relationship": "parentOf"}, parent.mime_type, io.BytesIO(parent.data)
        )
    except c2pa.C2paError as exc:
        raise ManifestError(
            f"parent {parent.title!r} ({parent.mime_type}): not usable as ingredient: {exc}"
        ) from exc


def soft_binding_assertion(*, algorithm: str, value: str) -> dict:
    """A C2PA soft-binding assertion that lets a watermark find this manifest again."""
    return {
        "label": "c2pa.soft-binding",
        "data": {"alg": algorithm, "blocks": [{"scope": {}, "value": value}]},
    }


def sign_generated(
    *,
    data: bytes,
    mime_type: str,
    title: str,
    lineage: GenerationLineage,
    options: SignOptions,
    policy: TrainingMiningPolicy | None = None,
) -> bytes:
    """Sign a generated (already watermarked) image with its lineage.

    Without a parent the first action is c2pa.created. With one, C2PA 2.x requires c2pa.opened on
    the parent first (the EDIT intent makes c2pa add it, linked to the ingredient), so the
    generation is recorded as c2pa.edited with the same source type.
    """
    _check_mime(mime_type)
    generation = {
        "action": "c2pa.edited" if lineage.parent else "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": PRODUCT_NAME, "version": lineage.model_version},
    }
    if lineage.recipe:
        generation["parameters"] = {"com.brandforge.recipe": lineage.recipe}
    actions = [
        generation,
        {"action": "c2pa.watermarked.bound", "parameters": {"alg": lineage.watermark_algorithm}},
    ]
    definition = _definition(
        title=title,
        mime_type=mime_type,
        actions=actions,
        assertions=[
            soft_binding_assertion(algorithm=lineage.watermark_algorithm, value=lineage.watermark_id),
            (policy or TrainingMiningPolicy()).assertion(),
        ],
    )
    # The snapshot is not a file we can hash as an asset, so it is an ingredient whose data is a
    # small JSON record bound into the manifest by hash.
    definition["ingredients"] = [
        {
            "title": f"dataset snapshot {lineage.snapshot_id}",
            "relationship": "inputTo",
            "format": "application/json",
            "instance_id": f"brandforge:snapshot:{lineage.snapshot_id}",
            "data": {"format": "application/json", "identifier": "snapshot.json"},
        }
    ]
    builder = _new_builder(definition=definition, options=options)
    if lineage.parent:
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        _add_parent(builder, lineage.parent)
    snapshot = {"snapshot_id": lineage.snapshot_id, "sha256": lineage.snapshot_sha256}
    builder.add_resource("snapshot.json", io.BytesIO(json.dumps(snapshot, sort_keys=True).encode()))
    return _sign(builder=builder, options=options, data=data, mime_type=mime_type)


def sign_rendition(
    *,
    data: bytes,
    mime_type: str,
    title: str,
    original: SourceFile,
    resized: bool,
    options: SignOptions,
) -> bytes:
    """Sign a delivered rendition with the original as its parent ingredient.

    Transcoding is recorded whenever the MIME type differs from the original's.
    """
    _check_mime(mime_type)
    actions = []
    if resized:
        actions.append({"action": "c2pa.resized"})
    if mime_type != original.mime_type:
        actions.append({"action": "c2pa.transcoded"})
    if not actions:
        raise ManifestError(
            f"rendition {title!r}: neither resized nor transcoded; serve the original instead"
        )
    builder = _new_builder(
        definition=_definition(title=title, mime_type=mime_type, actions=actions, assertions=[]),
        options=options,
    )
    # EDIT makes c2pa add the c2pa.opened action that links the parent ingredient.
    builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
    _add_parent(builder, original)
    return _sign(builder=builder, options=options, data=data, mime_type=mime_type)


def reissue_for_publication(
    *,
    data: bytes,
    mime_type: str,
    title: str,
    review: Sequence[ReviewDecision],
    published_at: dt.datetime,
    options: SignOptions,
) -> bytes:
    """Re-sign a generated asset at publication with the review decisions.

    The previous manifest becomes the parent ingredient; its soft binding and training-and-mining
    assertions are carried into the new active manifest so readers see them without walking the
    chain. (An UPDATE-intent manifest would be lighter, but c2pa 0.91 reports a data-hash
    mismatch on it, so this is an EDIT with a c2pa.published action.)
    """
    _check_mime(mime_type)
    if not review:
        raise ManifestError(f"publication of {title!r}: no review decisions to record")
    current = read_manifest(data=data, mime_type=mime_type)
    previous = current.active_manifest
    if not current.verdict.is_intact or previous is None:
        raise NothingToReissueError(
            f"publication of {title!r}: no intact manifest to re-issue ({current.summary})"
        )
    carried = [
        {"label": a["label"], "data": a["data"]}
        for a in previous.get("assertions", [])
        if a.get("label") == "c2pa.soft-binding" or a.get("label") in TRAINING_MINING_LABELS
    ]
    review_assertion = {
        "label": REVIEW_LABEL,
        "data": {"published_at": published_at.isoformat(), "steps": [step.as_json() for step in review]},
    }
    builder = _new_builder(
        definition=_definition(
            title=title,
            mime_type=mime_type,
            actions=[{"action": "c2pa.published"}],
            assertions=[*carried, review_assertion],
        ),
        options=options,
    )
    builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
    _add_parent(builder, SourceFile(data=data, mime_type=mime_type, title=title))
    return _sign(builder=builder, options=options, data=data, mime_type=mime_type)
