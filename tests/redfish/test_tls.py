"""The self-signed certificate for HTTPS: made once in data_dir/tls, then reused."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from energydash.config import load_settings
from energydash.redfish import ensure_self_signed_cert


def test_certificate_is_generated_once_and_loads_into_an_ssl_context(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", redfish_tls=True)
    certfile, keyfile = ensure_self_signed_cert(settings)
    assert certfile.parent == tmp_path / "data" / "tls"
    assert keyfile.stat().st_mode & 0o077 == 0  # the key is private to its owner
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    first = certfile.read_bytes()
    again, _ = ensure_self_signed_cert(settings)
    assert again.read_bytes() == first
