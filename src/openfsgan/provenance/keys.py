"""The key and certificate chain that sign C2PA manifests.

Order of precedence:

1. an explicit certificate chain + private key (``--c2pa-cert`` / ``--c2pa-key``);
2. ``$OPENFSGAN_C2PA_CERT`` and ``$OPENFSGAN_C2PA_KEY``;
3. a local identity in ``$OPENFSGAN_C2PA_DIR`` (default ``$XDG_CONFIG_HOME/openfsgan/c2pa`` or
   ``~/.config/openfsgan/c2pa``), made on first use: a throw-away root CA (its private key is
   never stored, so it can sign nothing else) and an ES256 (ECDSA P-256) signing certificate
   issued by it. The folder is 0700 and the key file 0600.

A local identity makes manifests that verify as *valid* (intact, correctly signed) but not as
*trusted*: no one else knows this root. An organisation that wants trusted manifests passes its
own chain (PEM, signing certificate first, then intermediates) and key (PEM, PKCS#8 or
traditional); the algorithm follows the key: EC P-256/384/521 -> ES256/384/512, Ed25519,
RSA -> PS256. Verifiers are told about a root with ``$OPENFSGAN_C2PA_TRUST_ANCHORS``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openfsgan.errors import ConfigError

log = logging.getLogger(__name__)

ENV_DIR = "OPENFSGAN_C2PA_DIR"
ENV_CERT = "OPENFSGAN_C2PA_CERT"
ENV_KEY = "OPENFSGAN_C2PA_KEY"
ENV_TRUST_ANCHORS = "OPENFSGAN_C2PA_TRUST_ANCHORS"
CHAIN_FILE = "signer-chain.pem"
KEY_FILE = "signer-key.pem"
ROOT_FILE = "root-ca.pem"
_LOCK_FILE = ".lock"
_SIGNER_YEARS = 5


@dataclass(frozen=True, repr=False)
class SigningIdentity:
    """A PEM certificate chain (signer first) and the signer's private key.

    Attributes:
        certificate_chain_pem: signing certificate followed by its intermediates.
        private_key_pem: the signing certificate's private key.
        algorithm: C2PA signing algorithm name (``es256``, ``ps256``, ``ed25519`` ...).
        source: where it came from (for logs and reports; never the key itself).
        is_local: a locally made identity (valid but untrusted manifests).
    """

    certificate_chain_pem: bytes
    private_key_pem: bytes
    algorithm: str
    source: str
    is_local: bool

    def __repr__(self) -> str:  # never print the key
        return f"SigningIdentity(algorithm={self.algorithm!r}, source={self.source!r})"


def default_key_dir() -> Path:
    """``$OPENFSGAN_C2PA_DIR``, else ``$XDG_CONFIG_HOME/openfsgan/c2pa`` (``~/.config``)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home).expanduser() / "openfsgan" / "c2pa"


def _algorithm_for_key(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in by_curve:
            raise ConfigError(f"unsupported EC curve {key.curve.name} for C2PA signing "
                              "(use P-256, P-384 or P-521)")
        return by_curve[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ConfigError(f"unsupported private key type {type(key).__name__} for C2PA signing")


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"C2PA {what} not found: {path}") from None
    except PermissionError:
        raise ConfigError(f"C2PA {what} is not readable (permission denied): {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"C2PA {what} is a folder, expected a PEM file: {path}") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"C2PA {what} is not a PEM file: {path}")
    return data


def identity_from_pem(chain_pem: bytes, key_pem: bytes, source: str,
                      is_local: bool = False) -> SigningIdentity:
    """Check that the key loads and matches the first certificate; pick the algorithm."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as error:
        raise ConfigError(f"C2PA certificate chain from {source} cannot be read: {error}"
                          ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"C2PA private key from {source} cannot be read (it must be an "
                          f"unencrypted PEM key): {error}") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if (certificates[0].public_key().public_bytes(encoding, public)
            != key.public_key().public_bytes(encoding, public)):
        raise ConfigError(f"C2PA private key does not match the first certificate of the chain "
                          f"({source}); put the signing certificate first")
    now = datetime.datetime.now(datetime.timezone.utc)
    if certificates[0].not_valid_after_utc < now:
        raise ConfigError(f"C2PA signing certificate expired on "
                          f"{certificates[0].not_valid_after_utc:%Y-%m-%d} ({source})")
    return SigningIdentity(chain_pem, key_pem, _algorithm_for_key(key), source, is_local)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with ``mode`` permissions from the start (never world-readable)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def make_local_identity_pem() -> tuple[bytes, bytes, bytes]:
    """A fresh root CA and an ES256 signer it issued: ``(chain_pem, key_pem, root_pem)``.

    The leaf follows the C2PA certificate profile: not a CA, digitalSignature key usage,
    emailProtection extended key usage, subject/authority key identifiers.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    organisation = x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                      "openfsgan local signer (untrusted)")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openfsgan local root"),
                           organisation])
    usage = {name: False for name in (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")}
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365 * (_SIGNER_YEARS + 1)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(**{**usage, "key_cert_sign": True, "crl_sign": True}),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                       critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openfsgan signer"),
                             organisation])
    signer = (
        x509.CertificateBuilder()
        .subject_name(signer_name).issuer_name(root_name).public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365 * _SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True}), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                       critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    root_pem = root.public_bytes(pem)
    chain_pem = signer.public_bytes(pem) + root_pem
    key_pem = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    return chain_pem, key_pem, root_pem


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise first-use creation between processes (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: creation races are harmless there too (atomic renames)
        yield
        return
    with open(directory / _LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_identity(directory: Path | None = None) -> SigningIdentity:
    """The local signing identity in ``directory``, created on first use."""
    folder = directory or default_key_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
    except OSError as error:
        raise ConfigError(f"cannot create the C2PA key folder {folder}: {error.strerror} "
                          f"(set ${ENV_DIR} to a writable folder)") from None
    chain_path, key_path = folder / CHAIN_FILE, folder / KEY_FILE
    with _locked(folder):
        if not (chain_path.exists() and key_path.exists()):
            chain_pem, key_pem, root_pem = make_local_identity_pem()
            _write_private(key_path, key_pem, 0o600)
            _write_private(chain_path, chain_pem, 0o644)
            _write_private(folder / ROOT_FILE, root_pem, 0o644)
            log.info("made a local C2PA signing identity in %s", folder)
        elif key_path.stat().st_mode & 0o077:
            log.warning("C2PA key %s is readable by others; fixing its permissions to 0600",
                        key_path)
            os.chmod(key_path, 0o600)
        return identity_from_pem(_read_pem(chain_path, "certificate chain"),
                                 _read_pem(key_path, "private key"),
                                 source=str(folder), is_local=True)


def load_signing_identity(cert: str | os.PathLike[str] | None = None,
                          key: str | os.PathLike[str] | None = None) -> SigningIdentity:
    """The identity to sign with: explicit files, else the environment, else the local one."""
    cert = cert or os.environ.get(ENV_CERT) or None
    key = key or os.environ.get(ENV_KEY) or None
    if cert is None and key is None:
        return local_identity()
    if cert is None or key is None:
        raise ConfigError("give both a C2PA certificate chain and its private key "
                          f"(--c2pa-cert and --c2pa-key, or ${ENV_CERT} and ${ENV_KEY})")
    cert_path, key_path = Path(cert).expanduser(), Path(key).expanduser()
    return identity_from_pem(_read_pem(cert_path, "certificate chain"),
                             _read_pem(key_path, "private key"), source=str(cert_path))


def trust_anchors_pem() -> str | None:
    """PEM roots a verifier should trust (``$OPENFSGAN_C2PA_TRUST_ANCHORS``), if any."""
    path = os.environ.get(ENV_TRUST_ANCHORS)
    if not path:
        return None
    return _read_pem(Path(path).expanduser(), "trust anchors").decode("ascii")
