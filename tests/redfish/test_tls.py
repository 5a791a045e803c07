"""The self-signed certificate for HTTPS: made once in data_dir/tls, then reused."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
from cryptography import x509
from rf_support import ADMIN, ADMIN_PASSWORD, build_settings, serve

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


def test_the_service_answers_over_https_with_the_generated_certificate(tmp_path: Path) -> None:
    settings = build_settings(tmp_path, redfish_tls=True)
    certfile, keyfile = ensure_self_signed_cert(settings)
    with serve(settings, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as server:
        assert server.url.startswith("https://")
        served = ssl.get_server_certificate(("127.0.0.1", settings.port))
        assert x509.load_pem_x509_certificate(served.encode()) == x509.load_pem_x509_certificate(
            certfile.read_bytes()
        )
        with httpx.Client(base_url=server.url, verify=False, auth=(ADMIN, ADMIN_PASSWORD)) as c:
            root = c.get("/redfish/v1/Managers/BMC/NetworkProtocol").json()
    assert root["HTTPS"]["ProtocolEnabled"] is True and root["HTTP"]["ProtocolEnabled"] is False


def test_with_tls_plain_http_redirects_and_refuses_basic_credentials(tmp_path: Path) -> None:
    from energydash.net import free_port

    plain = free_port()
    settings = build_settings(tmp_path, redfish_tls=True, redfish_http_redirect_port=plain)
    certfile, keyfile = ensure_self_signed_cert(settings)
    with serve(settings, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)):
        with httpx.Client(base_url=f"http://127.0.0.1:{plain}") as client:
            moved = client.get("/redfish/v1/Chassis?x=1")
            refused = client.get("/redfish/v1/Chassis", auth=(ADMIN, ADMIN_PASSWORD))
        with httpx.Client(verify=False, follow_redirects=True, auth=(ADMIN, ADMIN_PASSWORD)) as c:
            followed = c.get(moved.headers["Location"])
    assert moved.status_code == 308
    assert moved.headers["Location"] == f"https://127.0.0.1:{settings.port}/redfish/v1/Chassis?x=1"
    assert refused.status_code == 403 and "plain HTTP" in refused.json()["error"]["message"]
    assert followed.status_code == 200
