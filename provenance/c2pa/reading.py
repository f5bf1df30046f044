"""Read and judge a file's C2PA manifest store.

`read_manifest` never raises for bad input: a missing, corrupted, conflicting or untrusted manifest
and an unreadable file each come back as a `ManifestReport` with its own `Verdict`.
"""

from __future__ import annotations

import enum
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import c2pa

from .process_local import ProcessLocalCache

TRAINING_MINING_LABELS = frozenset({"c2pa.training-mining", "cawg.training-mining"})
# IPTC digital source types that declare generative-AI involvement.
AI_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)
# When several assertions speak about the same use, the strictest one is what a reader may rely on.
_STRICTNESS = {"allowed": 0, "constrained": 1, "notAllowed": 2}
_ACTIONS_LABELS = ("c2pa.actions", "c2pa.actions.v2")


class Verdict(enum.StrEnum):
    TRUSTED = "trusted"
    VALID_UNTRUSTED = "valid_untrusted"
    INVALID = "invalid"
    NO_MANIFEST = "no_manifest"
    CORRUPTED_MANIFEST = "corrupted_manifest"
    CONFLICTING_MANIFESTS = "conflicting_manifests"
    UNREADABLE_FILE = "unreadable_file"

    @property
    def is_intact(self) -> bool:
        """Signature and bindings verify (whether or not the signer is trusted)."""
        return self in (Verdict.TRUSTED, Verdict.VALID_UNTRUSTED)


@dataclass(frozen=True)
class TrustConfig:
    """Trust anchors (CA certificates) and directly allowed signer certificates, as PEM bundles."""

    anchors_pem: str = ""
    allowed_pem: str = ""

    @classmethod
    def from_files(
        cls, *, anchors: Sequence[Path | str] = (), allowed: Sequence[Path | str] = ()
    ) -> TrustConfig:
        def bundle(paths: Sequence[Path | str]) -> str:
            return "".join(Path(p).read_text(encoding="ascii") for p in paths)

        return cls(anchors_pem=bundle(anchors), allowed_pem=bundle(allowed))

    def settings(self) -> dict:
        trust = {}
        if self.anchors_pem:
            trust["trust_anchors"] = self.anchors_pem
        if self.allowed_pem:
            trust["allowed_list"] = self.allowed_pem
        # Reading must never reach the network: no remote manifests, no OCSP.
        return {
            "trust": trust,
            "verify": {"verify_trust": True, "ocsp_fetch": False, "remote_manifest_fetch": False},
        }


@dataclass(frozen=True)
class ValidationIssue:
    code: str
    explanation: str = ""
    url: str = ""


@dataclass(frozen=True)
class SoftBinding:
    algorithm: str
    value: str
    manifest_label: str


@dataclass(frozen=True)
class ManifestReport:
    verdict: Verdict
    summary: str
    validation_state: str | None = None
    failures: tuple[ValidationIssue, ...] = ()
    active_manifest_label: str | None = None
    manifest_store: dict | None = None
    signer_issuer: str | None = None
    signer_common_name: str | None = None
    declares_ai_generation: bool = False
    digital_source_types: tuple[str, ...] = ()
    training_mining: dict[str, str] = field(default_factory=dict)
    soft_bindings: tuple[SoftBinding, ...] = ()

    @property
    def active_manifest(self) -> dict | None:
        if not self.manifest_store or not self.active_manifest_label:
            return None
        return self.manifest_store.get("manifests", {}).get(self.active_manifest_label)

    def as_json(self) -> dict:
        """A JSON-serialisable summary (the full store stays in `manifest_store`)."""
        return {
            "verdict": self.verdict.value,
            "summary": self.summary,
            "validation_state": self.validation_state,
            "failures": [vars(f) for f in self.failures],
            "active_manifest": self.active_manifest_label,
            "signer": {"issuer": self.signer_issuer, "common_name": self.signer_common_name},
            "declares_ai_generation": self.declares_ai_generation,
            "digital_source_types": list(self.digital_source_types),
            "training_mining": dict(self.training_mining),
            "soft_bindings": [vars(s) for s in self.soft_bindings],
        }


_reader_contexts: ProcessLocalCache[c2pa.Context] = ProcessLocalCache()


def _reader_context(trust: TrustConfig | None) -> c2pa.Context:
    config = trust or TrustConfig()
    return _reader_contexts.get(config, lambda: c2pa.Context.from_dict(config.settings()))


def _error_report(exc: c2pa.C2paError) -> ManifestReport:
    message = str(exc)
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return ManifestReport(verdict=Verdict.NO_MANIFEST, summary="the file carries no C2PA manifest")
    if "more than one manifest store" in message:
        return ManifestReport(
            verdict=Verdict.CONFLICTING_MANIFESTS,
            summary=f"the file carries more than one C2PA manifest store; none can be relied on ({message})",
        )
    if isinstance(exc, c2pa.C2paError.Other | c2pa.C2paError.NotSupported | c2pa.C2paError.Io):
        return ManifestReport(
            verdict=Verdict.UNREADABLE_FILE,
            summary=f"the file could not be parsed (truncated or not the declared format): {message}",
        )
    return ManifestReport(
        verdict=Verdict.CORRUPTED_MANIFEST, summary=f"the C2PA manifest is present but damaged: {message}"
    )


# Assertion bodies are whatever the signer wrote; a well-signed file may still hold odd shapes, so
# the walkers below skip anything that is not the expected dict or list instead of failing.
def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _assertions(manifest: dict, labels: frozenset[str] | tuple[str, ...]) -> Iterator[dict]:
    for assertion in _dicts(manifest.get("assertions")):
        if assertion.get("label") in labels:
            yield _dict(assertion.get("data"))


def _lineage(store: dict, label: str) -> Iterator[tuple[str, dict]]:
    """The active manifest, then its parentOf ancestors (stops on a cycle or a missing link)."""
    manifests = _dict(store.get("manifests"))
    seen: set[str] = set()
    current: object = label
    while isinstance(current, str) and current not in seen and isinstance(manifests.get(current), dict):
        seen.add(current)
        manifest = manifests[current]
        yield current, manifest
        parents = [i for i in _dicts(manifest.get("ingredients")) if i.get("relationship") == "parentOf"]
        current = parents[0].get("active_manifest") if parents else None


def _source_types(chain: list[tuple[str, dict]]) -> tuple[str, ...]:
    found: list[str] = []
    for _, manifest in chain:
        for data in _assertions(manifest, _ACTIONS_LABELS):
            for action in _dicts(data.get("actions")):
                source_type = action.get("digitalSourceType")
                if isinstance(source_type, str) and source_type not in found:
                    found.append(source_type)
    return tuple(found)


def _training_mining(chain: list[tuple[str, dict]]) -> dict[str, str]:
    """Permissions across the active manifest and its ancestors: a rendition inherits its original's."""
    result: dict[str, str] = {}
    for _, manifest in chain:
        for data in _assertions(manifest, TRAINING_MINING_LABELS):
            for key, entry in _dict(data.get("entries")).items():
                use = _dict(entry).get("use")
                if use not in _STRICTNESS:
                    continue
                name = key.split(".", 1)[-1]
                if name not in result or _STRICTNESS[use] > _STRICTNESS[result[name]]:
                    result[name] = use
    return result


def _soft_bindings(chain: list[tuple[str, dict]]) -> tuple[SoftBinding, ...]:
    found: list[SoftBinding] = []
    for label, manifest in chain:
        for data in _assertions(manifest, ("c2pa.soft-binding",)):
            algorithm = data.get("alg")
            for block in _dicts(data.get("blocks")):
                value = block.get("value")
                if isinstance(value, str) and all(b.value != value for b in found):
                    found.append(
                        SoftBinding(algorithm=str(algorithm or ""), value=value, manifest_label=label)
                    )
    return tuple(found)


def _judge(
    state: str | None, failures: tuple[ValidationIssue, ...], trusted_configured: bool
) -> tuple[Verdict, str]:
    codes = {f.code for f in failures}
    if state == "Trusted":
        return Verdict.TRUSTED, "valid manifest signed by a trusted certificate authority"
    if state == "Valid":
        if trusted_configured and "signingCredential.untrusted" in codes:
            return Verdict.VALID_UNTRUSTED, "valid manifest, but signed by an unknown certificate authority"
        return Verdict.VALID_UNTRUSTED, "valid manifest; the signer is not checked against any trust anchor"
    listed = ", ".join(sorted(codes - {"signingCredential.untrusted"})) or "unspecified"
    return Verdict.INVALID, f"the manifest does not validate against this file ({listed})"


def read_manifest(
    *, data: bytes, mime_type: str | None = None, trust: TrustConfig | None = None
) -> ManifestReport:
    """Read and validate the manifest store embedded in `data`.

    `mime_type` is a hint; c2pa sniffs the container from the bytes. Remote manifests are not
    fetched. With `trust`, signatures chaining to its anchors verify as TRUSTED.
    """
    try:
        with c2pa.Reader(mime_type or None, io.BytesIO(data), None, _reader_context(trust)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return _error_report(exc)
    except (ValueError, UnicodeDecodeError) as exc:
        return ManifestReport(
            verdict=Verdict.CORRUPTED_MANIFEST, summary=f"manifest store is not readable JSON: {exc}"
        )

    label = store.get("active_manifest")
    if not label or label not in store.get("manifests", {}):
        return ManifestReport(
            verdict=Verdict.CORRUPTED_MANIFEST,
            summary="manifest store has no active manifest",
            manifest_store=store,
        )
    active_results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = tuple(
        ValidationIssue(code=f.get("code", ""), explanation=f.get("explanation", ""), url=f.get("url", ""))
        for f in active_results.get("failure", [])
    )
    state = store.get("validation_state")
    verdict, summary = _judge(state, failures, trusted_configured=bool(trust and trust.anchors_pem))
    chain = list(_lineage(store, label))
    source_types = _source_types(chain)
    signature = store["manifests"][label].get("signature_info", {})
    return ManifestReport(
        verdict=verdict,
        summary=summary,
        validation_state=state,
        failures=failures,
        active_manifest_label=label,
        manifest_store=store,
        signer_issuer=signature.get("issuer"),
        signer_common_name=signature.get("common_name"),
        declares_ai_generation=any(t.rsplit("/", 1)[-1] in AI_SOURCE_TYPES for t in source_types),
        digital_source_types=source_types,
        training_mining=_training_mining(chain),
        soft_bindings=_soft_bindings(chain),
    )


def read_manifest_file(
    *, path: Path | str, mime_type: str | None = None, trust: TrustConfig | None = None
) -> ManifestReport:
    """`read_manifest` for a file on disk; an unreadable path is an UNREADABLE_FILE verdict."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return ManifestReport(
            verdict=Verdict.UNREADABLE_FILE, summary=f"{path}: cannot be read ({exc.strerror})"
        )
    return read_manifest(data=data, mime_type=mime_type, trust=trust)
