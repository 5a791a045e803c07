"""A self-signed certificate for serving Redfish over HTTPS (``ENERGYDASH_REDFISH_TLS=true``).

Generated once with ``cryptography`` into ``data_dir/tls`` and reused afterwards, so clients
that pinned it keep working across restarts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
from pathlib import Path

from energydash.config import Settings

log = logging.getLogger(__name__)
VALID_DAYS = 825


def ensure_self_signed_cert(settings: Settings) -> tuple[Path, Path]:
    """(certfile, keyfile) under ``settings.data_dir / "tls"``, created on first call."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(settings.data_dir) / "tls"
    certfile, keyfile = folder / "redfish-cert.pem", folder / "redfish-key.pem"
    if certfile.is_file() and keyfile.is_file():
        return certfile, keyfile
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EnergyDash (self-signed)"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keyfile.write_bytes(key_bytes)
    keyfile.chmod(0o600)
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("generated a self-signed TLS certificate in %s", folder)
    return certfile, keyfile
