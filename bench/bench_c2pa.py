"""Signing and reading cost per delivery format: `nice -n 10 .venv/bin/python bench/bench_c2pa.py`."""

from __future__ import annotations

import io
import statistics
import tempfile
import time

import numpy as np
from PIL import Image

from provenance.c2pa import keys, manifests, reading, signing

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/avif": "AVIF"}


def encode(*, mime_type: str, size: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, FORMATS[mime_type])
    return out.getvalue()


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        creds = keys.create_dev_credentials(directory=tmp)
        trust = reading.TrustConfig.from_files(anchors=[creds.ca_cert])
        lineage = manifests.GenerationLineage(
            model_version="m", snapshot_id="s", snapshot_sha256="00" * 32, watermark_id="w"
        )
        specs = {
            "key file": signing.KeyFileSigner(key_path=creds.signer_key, chain_path=creds.chain),
            "subprocess callback": signing.CallbackSigner(
                sign=signing.SubprocessKeySigner(key_path=creds.signer_key), chain_path=creds.chain
            ),
        }
        print(
            f"{'format':<11}{'signer':<21}{'thumb':>6}{'in KB':>8}{'out KB':>8}{'sign ms':>9}{'read ms':>9}"
        )
        for mime_type in FORMATS:
            data = encode(mime_type=mime_type, size=512)
            for name, spec in specs.items():
                for thumb in (None, 256):
                    options = manifests.SignOptions(signer=spec, thumbnail_edge=thumb)

                    def sign(options=options, data=data, mime_type=mime_type):
                        return manifests.sign_generated(
                            data=data, mime_type=mime_type, title="b", lineage=lineage, options=options
                        )

                    signed = sign()
                    sign_ms = timed(sign, 5)
                    read_ms = timed(lambda s=signed: reading.read_manifest(data=s, trust=trust), 5)
                    print(
                        f"{mime_type:<11}{name:<21}{thumb or '-':>6}{len(data) / 1024:>8.1f}"
                        f"{len(signed) / 1024:>8.1f}{sign_ms:>9.1f}{read_ms:>9.1f}"
                    )


if __name__ == "__main__":
    main()
