"""Development signing credentials: a local CA and an ES256 signing certificate.

Production configures its own key file and chain (or a KMS callback); this module only makes the
laptop default. Keys are written with mode 0600, atomically, and never overwritten by accident.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# C2PA accepts emailProtection and documentSigning (RFC 9336) for claim signers; listing both
# keeps older validators (emailProtection only) and newer ones content.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SIGNER_EKUS = (ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU)

CA_CERT_NAME = "ca.cert.pem"
CA_KEY_NAME = "ca.key.pem"
SIGNER_CERT_NAME = "signer.cert.pem"
SIGNER_KEY_NAME = "signer.key.pem"
# Leaf first, then the CA: the order c2pa expects for a certificate chain.
CHAIN_NAME = "signer.chain.pem"


class KeyMaterialError(Exception):
    """Base class for problems with signing key material."""


class KeyMaterialExistsError(KeyMaterialError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: signing material already exists; pass force=True to replace it")
        self.path = path


@dataclass(frozen=True)
class DevCredentials:
    """Paths of the files that `create_dev_credentials` wrote."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    signer_cert: Path
    signer_key: Path
    chain: Path


def credential_paths(*, directory: Path | str) -> DevCredentials:
    """The file layout under `directory`, whether or not the files exist yet."""
    base = Path(directory)
    return DevCredentials(
        directory=base,
        ca_cert=base / CA_CERT_NAME,
        ca_key=base / CA_KEY_NAME,
        signer_cert=base / SIGNER_CERT_NAME,
        signer_key=base / SIGNER_KEY_NAME,
        chain=base / CHAIN_NAME,
    )


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def build_ca(
    *, common_name: str, organization: str, valid_days: int
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed P-256 CA certificate allowed to sign certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(common_name, organization)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def build_signer(
    *,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    organization: str,
    valid_days: int,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 (ES256) end-entity certificate that C2PA validators accept for claim signing."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(SIGNER_EKUS)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def write_atomic(*, path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` via a temp file in the same folder, created with `mode` from the start.

    The temp file never exists with wider permissions, and readers never see a half-written key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def create_dev_credentials(
    *,
    directory: Path | str,
    force: bool = False,
    organization: str = "BrandForge Development",
    valid_days: int = 365,
) -> DevCredentials:
    """Create a local CA and an ES256 signer certificate under `directory`.

    Raises KeyMaterialExistsError when any of the files exists and `force` is false, so a second
    run can never silently replace keys that signed files already in circulation.
    """
    paths = credential_paths(directory=directory)
    outputs = (paths.ca_cert, paths.ca_key, paths.signer_cert, paths.signer_key, paths.chain)
    if not force:
        for existing in outputs:
            if existing.exists():
                raise KeyMaterialExistsError(existing)
    paths.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.directory, 0o700)

    ca_key, ca_cert = build_ca(
        common_name=f"{organization} Root CA", organization=organization, valid_days=valid_days * 5
    )
    signer_key, signer_cert = build_signer(
        ca_key=ca_key,
        ca_cert=ca_cert,
        common_name=f"{organization} C2PA Signer",
        organization=organization,
        valid_days=valid_days,
    )
    write_atomic(path=paths.ca_key, data=_key_pem(ca_key), mode=0o600)
    write_atomic(path=paths.signer_key, data=_key_pem(signer_key), mode=0o600)
    write_atomic(path=paths.ca_cert, data=_cert_pem(ca_cert), mode=0o644)
    write_atomic(path=paths.signer_cert, data=_cert_pem(signer_cert), mode=0o644)
    write_atomic(path=paths.chain, data=_cert_pem(signer_cert) + _cert_pem(ca_cert), mode=0o644)
    return paths
