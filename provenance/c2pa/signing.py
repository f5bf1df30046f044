"""C2PA signers and builder contexts, made once per process (see process_local)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import c2pa

from .process_local import ProcessLocalCache

# ES256 is what keys.py makes and what the C2PA trust list ecosystem expects most widely.
DEFAULT_ALGORITHM = "es256"
MAX_THUMBNAIL_EDGE = 256

_ALGORITHMS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ps384": c2pa.C2paSigningAlg.PS384,
    "ps512": c2pa.C2paSigningAlg.PS512,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}


class SigningConfigError(Exception):
    """The signing configuration cannot produce a signer."""


class ExternalSignerError(Exception):
    """The out-of-process signer failed or returned no signature."""


def _algorithm(name: str) -> c2pa.C2paSigningAlg:
    try:
        return _ALGORITHMS[name.lower()]
    except KeyError:
        raise SigningConfigError(
            f"signing algorithm {name!r} is not supported; choose one of {sorted(_ALGORITHMS)}"
        ) from None


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningConfigError(f"{what} {path}: cannot be read ({exc.strerror})") from exc
    if b"-----BEGIN" not in data:
        raise SigningConfigError(f"{what} {path}: not a PEM file")
    return data


@dataclass(frozen=True)
class KeyFileSigner:
    """A private key file and its certificate chain (leaf first), both PEM."""

    key_path: Path
    chain_path: Path
    algorithm: str = DEFAULT_ALGORITHM
    tsa_url: str | None = None

    def build(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(
            _algorithm(self.algorithm),
            _read_pem(self.chain_path, "certificate chain"),
            _read_pem(self.key_path, "private key"),
            self.tsa_url,
        )
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise SigningConfigError(
                f"key {self.key_path} with chain {self.chain_path}: rejected by c2pa ({exc})"
            ) from exc


@dataclass(frozen=True)
class CallbackSigner:
    """Signs through a callable (a KMS or HSM client): bytes to sign in, signature out.

    The callable may return a DER-encoded ECDSA signature or the raw r||s form; c2pa accepts
    both. It runs in the signing process's thread, so it should time out rather than hang.
    """

    sign: Callable[[bytes], bytes]
    chain_path: Path
    algorithm: str = DEFAULT_ALGORITHM
    tsa_url: str | None = None

    def build(self) -> c2pa.Signer:
        chain = _read_pem(self.chain_path, "certificate chain").decode("ascii")
        try:
            return c2pa.Signer.from_callback(self.sign, _algorithm(self.algorithm), chain, self.tsa_url)
        except c2pa.C2paError as exc:
            raise SigningConfigError(
                f"callback signer with chain {self.chain_path}: rejected by c2pa ({exc})"
            ) from exc


SignerSpec = KeyFileSigner | CallbackSigner


@dataclass(frozen=True)
class SubprocessKeySigner:
    """A callable that signs in a separate process, the way a KMS client signs off-box.

    The key never enters this process: `python -m provenance.c2pa.external_signer KEY` reads the
    bytes on stdin and writes the DER signature on stdout. It stands in for a KMS in tests and
    documents the callback contract.
    """

    key_path: Path
    timeout_s: float = 10.0

    def __call__(self, data: bytes) -> bytes:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "provenance.c2pa.external_signer", str(self.key_path)],
                input=data,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ExternalSignerError(
                f"external signer for {self.key_path}: no answer in {self.timeout_s} s"
            ) from exc
        if done.returncode != 0 or not done.stdout:
            reason = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
            raise ExternalSignerError(f"external signer for {self.key_path}: {reason}")
        return done.stdout


_signers: ProcessLocalCache[c2pa.Signer] = ProcessLocalCache()
_contexts: ProcessLocalCache[c2pa.Context] = ProcessLocalCache()


def get_signer(*, spec: SignerSpec) -> c2pa.Signer:
    """This process's signer for `spec`, built on first use."""
    return _signers.get(spec, spec.build)


def builder_settings(*, thumbnail_edge: int | None) -> dict:
    """c2pa settings for building manifests: no network, a small thumbnail or none."""
    if thumbnail_edge is not None and not 0 < thumbnail_edge <= MAX_THUMBNAIL_EDGE:
        raise SigningConfigError(
            f"thumbnail_edge {thumbnail_edge}: must be 1..{MAX_THUMBNAIL_EDGE} px, or None for none"
        )
    thumbnail: dict = {"enabled": thumbnail_edge is not None}
    if thumbnail_edge is not None:
        # c2pa otherwise keeps the source format, and a lossless WebP thumbnail measured larger than
        # the 512 px WebP it described (bench/bench_c2pa.py); JPEG keeps it to a few KB.
        thumbnail.update(long_edge=thumbnail_edge, format="jpeg", quality="medium")
    return {
        "builder": {"thumbnail": thumbnail},
        "verify": {"ocsp_fetch": False, "remote_manifest_fetch": False},
    }


def get_builder_context(*, thumbnail_edge: int | None) -> c2pa.Context:
    """This process's builder context for the given thumbnail size."""
    settings = builder_settings(thumbnail_edge=thumbnail_edge)
    return _contexts.get(thumbnail_edge, lambda: c2pa.Context.from_dict(settings))
