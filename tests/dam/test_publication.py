"""A published generated asset's credentials are re-issued with the review decisions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dam.models import Asset
from dam.services.ingest import ingest_file
from dam.services.publication import reissue_credentials
from dam.services.workflow import transition
from provenance.c2pa.reading import read_manifest
from provenance.services.signing import Lineage, sign_generated_image, trust_config
from tests.dam.workflow_helpers import build_team


def _generated_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((256, 256), Image.BICUBIC)
    buffer = io.BytesIO()
    pixels.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_publication_reissues_the_manifest_with_steps_and_decisions():
    team = build_team(legal_mode="any")
    signed = sign_generated_image(
        data=_generated_png(1), mime_type="image/png", title="Variant 1",
        lineage=Lineage(model_version="test-model@1", snapshot_id="7", snapshot_sha256="ab" * 32),
    )
    version = ingest_file(
        name="variant-1.png", fileobj=io.BytesIO(signed.data), collection=team.collection, user=None,
        source=Asset.Source.GENERATED,
    ).version
    assert version.credentials["declares_ai_generation"] is True
    assert reissue_credentials(version=version) is None  # not published: nothing to re-issue
    for action, actor in (("approve", team.brand), ("approve", team.legal_a), ("publish", team.publisher)):
        transition(version=version, action=action, actor=actor)
    version.asset.refresh_from_db()
    published = reissue_credentials(version=version)
    assert reissue_credentials(version=version).pk == published.pk  # once
    with published.file.open("rb") as handle:
        report = read_manifest(data=handle.read(), mime_type="image/png", trust=trust_config())
    assert report.verdict.value == "trusted", report.summary
    review = next(a["data"] for a in report.active_manifest["assertions"] if a["label"] == "com.brandforge.review")
    assert [(s["step"], s["decision"]) for s in review["steps"]] == [
        ("Brand review", "approved"), ("Legal review", "approved"), ("Publication", "published")
    ]
    assert "@" not in str(review)
    assert report.declares_ai_generation
