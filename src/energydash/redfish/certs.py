"""The HTTPS certificate of the service: read it, make a CSR, replace it, reload the listener.

The certificate and key live in ``data_dir/tls`` (``tls.ensure_self_signed_cert``). Whoever
starts uvicorn passes ``context_factory`` as its ``ssl_context_factory``; the store keeps the
``SSLContext`` uvicorn serves with, and ``replace`` loads the new chain into that same
context, so the next TLS handshake presents the new certificate without a restart (open
connections keep the one they negotiated). The files are written first, so a restart serves
the new certificate too.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from energydash.config import Settings
from energydash.redfish.tls import ensure_self_signed_cert

MAX_PEM_BYTES = 64 * 1024
CSR_FIELDS = ("CommonName", "Organization", "OrganizationalUnit", "City", "State", "Country")


class CertificateError(ValueError):
    """A certificate or request that cannot be used; the message says why."""


@dataclass
class CertInfo:
    pem: str
    subject: dict[str, str]
    issuer: dict[str, str]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: str
    fingerprint: str


class CertificateStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._contexts: list[ssl.SSLContext] = []
        self._pending_key: Any = None  # the key of the last GenerateCSR
        self.replaced = 0

    def paths(self) -> tuple[Path, Path]:
        return ensure_self_signed_cert(self.settings)

    def context_factory(self, config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        """uvicorn's ``ssl_context_factory``: build the context as usual, remember it."""
        context = default()
        self._contexts.append(context)
        return context

    def attach(self, context: ssl.SSLContext) -> None:
        self._contexts.append(context)

    @property
    def live(self) -> bool:
        """Whether a listener serves with this store's context (else replacing needs a restart)."""
        return bool(self._contexts)

    def current(self) -> CertInfo:
        certfile, _ = self.paths()
        return describe(certfile.read_bytes())

    def generate_csr(self, subject: dict[str, str], key_algorithm: str) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if key_algorithm in ("", "TPM_ALG_ECC", "EC"):
            key: Any = ec.generate_private_key(ec.SECP256R1())
        elif key_algorithm == "TPM_ALG_RSA":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise CertificateError(f"KeyPairAlgorithm {key_algorithm!r} is not supported")
        builder = x509.CertificateSigningRequestBuilder().subject_name(_name(subject))
        csr = builder.sign(key, hashes.SHA256())
        self._pending_key = key
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def replace(self, pem: str) -> CertInfo:
        """Install a PEM certificate (with its key inline, or for the key of the last CSR)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        raw = pem.encode()
        if len(raw) > MAX_PEM_BYTES:
            raise CertificateError(f"CertificateString is larger than {MAX_PEM_BYTES} bytes")
        try:
            certs = x509.load_pem_x509_certificates(raw)
        except ValueError:
            raise CertificateError("CertificateString holds no PEM certificate") from None
        key: Any = None
        if b"PRIVATE KEY-----" in raw:
            try:
                key = serialization.load_pem_private_key(raw, password=None)
            except (ValueError, TypeError):
                raise CertificateError(
                    "the private key in CertificateString is unreadable"
                ) from None
        elif self._pending_key is not None:
            key = self._pending_key
        if key is None:
            raise CertificateError(
                "no private key: include it in CertificateString or sign a GenerateCSR request"
            )
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if certs[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise CertificateError("the certificate does not match the private key")
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        certfile, keyfile = self.paths()
        _write_atomic(keyfile, key_pem, 0o600)
        _write_atomic(certfile, chain, 0o644)
        for context in self._contexts:
            context.load_cert_chain(str(certfile), str(keyfile))
        self._pending_key = None
        self.replaced += 1
        return describe(chain)


def describe(pem: bytes) -> CertInfo:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    cert = x509.load_pem_x509_certificates(pem)[0]
    return CertInfo(
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        subject=_fields(cert.subject),
        issuer=_fields(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number.to_bytes(20, "big").lstrip(b"\0").hex(":").upper(),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _fields(name: Any) -> dict[str, str]:
    from cryptography.x509.oid import NameOID

    wanted = {
        NameOID.COMMON_NAME: "CommonName",
        NameOID.ORGANIZATION_NAME: "Organization",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "OrganizationalUnit",
        NameOID.LOCALITY_NAME: "City",
        NameOID.STATE_OR_PROVINCE_NAME: "State",
        NameOID.COUNTRY_NAME: "Country",
    }
    out: dict[str, str] = {}
    for attribute in name:
        key = wanted.get(attribute.oid)
        if key:
            out[key] = str(attribute.value)
    return out


def _name(subject: dict[str, str]) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    oids = {
        "CommonName": NameOID.COMMON_NAME,
        "Organization": NameOID.ORGANIZATION_NAME,
        "OrganizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "City": NameOID.LOCALITY_NAME,
        "State": NameOID.STATE_OR_PROVINCE_NAME,
        "Country": NameOID.COUNTRY_NAME,
    }
    try:
        return x509.Name(
            [x509.NameAttribute(oids[k], v) for k, v in subject.items() if k in oids and v]
        )
    except ValueError as error:
        raise CertificateError(str(error)) from None


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    os.replace(tmp, path)
