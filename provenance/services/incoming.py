"""What an incoming file's own Content Credentials say, for the DAM's ingest."""

from __future__ import annotations

from dataclasses import dataclass

from provenance.c2pa import reading
from provenance.services.signing import trust_config

# The uses that matter for training BrandForge's own generators on an asset.
_TRAINING_USES = ("ai_generative_training", "ai_training")


@dataclass(frozen=True)
class IncomingCredentials:
    verdict: str  # reading.Verdict value
    summary: str
    validation_state: str | None
    manifest_store: dict | None
    declares_ai_generation: bool
    # True: the manifest allows training; False: it forbids or constrains it; None: it says
    # nothing we can rely on (no manifest, no permissions, or a broken manifest that allows).
    training_mining_allowed: bool | None
    training_mining: dict[str, str]

    def as_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "validation_state": self.validation_state,
            "declares_ai_generation": self.declares_ai_generation,
            "training_mining_allowed": self.training_mining_allowed,
            "training_mining": dict(self.training_mining),
        }


def training_allowed(report: reading.ManifestReport) -> bool | None:
    uses = [report.training_mining[name] for name in _TRAINING_USES if name in report.training_mining]
    if not uses:
        return None
    # "constrained" needs a person to read the constraint; until then it counts as a refusal.
    if any(use != "allowed" for use in uses):
        return False
    # A permission from a manifest that does not validate could have been written by anyone; a
    # refusal from it is still honoured above, because obeying it costs nothing.
    return True if report.verdict.is_intact else None


def read_incoming(*, data: bytes, mime_type: str) -> IncomingCredentials:
    """Read and validate an incoming file's manifest (never raises for bad input)."""
    report = reading.read_manifest(data=data, mime_type=mime_type, trust=trust_config())
    return IncomingCredentials(
        verdict=report.verdict.value,
        summary=report.summary,
        validation_state=report.validation_state,
        manifest_store=report.manifest_store,
        declares_ai_generation=report.declares_ai_generation,
        training_mining_allowed=training_allowed(report),
        training_mining=dict(report.training_mining),
    )
