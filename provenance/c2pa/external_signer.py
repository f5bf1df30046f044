"""Out-of-process ES256 signer: `python -m provenance.c2pa.external_signer KEY_FILE`.

Reads the bytes to sign on stdin and writes a DER ECDSA-SHA256 signature on stdout. It is the
smallest stand-in for a KMS/HSM: the calling process holds only the certificate chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def sign_with_key_file(*, key_path: Path, data: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{key_path}: not an EC private key")
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m provenance.c2pa.external_signer KEY_FILE", file=sys.stderr)
        return 2
    data = sys.stdin.buffer.read()
    if not data:
        print("nothing to sign on stdin", file=sys.stderr)
        return 2
    try:
        signature = sign_with_key_file(key_path=Path(argv[0]), data=data)
    except (OSError, ValueError, TypeError) as exc:
        print(f"cannot sign with {argv[0]}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(signature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
