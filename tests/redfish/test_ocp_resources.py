"""What the OCP Rack PDU profile added, exercised live on a real server (not just present).

Peaks follow the readings, PowerRestorePolicy decides outlets after a PDU power loss,
asset fields are writable and shared by RackPDU and Chassis, Manager.Reset reboots the card
(503, outlets keep power), SimpleUpdate installs firmware through a task, CertificateService
replaces the certificate the HTTPS listener serves.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rf_support import (
    ADMIN,
    ADMIN_PASSWORD,
    READER,
    READER_PASSWORD,
    RedfishServer,
    build_settings,
    serve,
)

import redfish
from energydash.redfish import ensure_self_signed_cert
from energydash.sim import commands as cmd

RACK = "/redfish/v1/PowerEquipment/RackPDUs"
SENSORS = "/redfish/v1/Chassis/1/Sensors"


@pytest.fixture(scope="module")
def card_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    """Its own server: a card reboot makes the whole service answer 503 for a moment."""
    settings = build_settings(
        tmp_path_factory.mktemp("card"), redfish_card_reboot_s=0.6, redfish_update_install_s=0.3
    )
    with serve(settings) as server:
        server.tick(3)
        yield server


def wait_until_up(client: httpx.Client, deadline_s: float = 15) -> None:
    deadline = time.monotonic() + deadline_s
    while client.get("/redfish/v1/Managers/BMC").status_code == 503:
        assert time.monotonic() < deadline, "the card did not come back"
        time.sleep(0.05)


# ---------------------------------------------------------------------- sensors
def test_power_sensor_peak_is_the_highest_reading_since_its_reset(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        seen = []
        for _ in range(6):
            redfish_server.tick(1, 60)
            sensor = client.get(f"{SENSORS}/PowerPDU").json()
            seen.append(sensor["Reading"])
        assert sensor["PeakReading"] >= max(seen) - 0.01
        assert sensor["ElectricalContext"] == "Total"
        assert sensor["SensingInterval"] == "PT1S"
        assert sensor["ReadingTime"] is not None
        reset = client.post(f"{SENSORS}/PowerPDU/Actions/Sensor.ResetMetrics", json={})
        assert reset.status_code == 204
        after = client.get(f"{SENSORS}/PowerPDU").json()
        assert after["PeakReading"] == pytest.approx(after["Reading"], abs=0.01)
        assert after["PeakReadingTime"] == after["ReadingTime"]
        phase = client.get(f"{SENSORS}/CurrentMainsAC1L2").json()
        assert phase["ElectricalContext"] == "Line2"


# ---------------------------------------------------------------------- restore policy
def test_power_restore_policy_decides_outlets_after_a_pdu_power_loss(
    redfish_server: RedfishServer,
) -> None:
    server = redfish_server
    with server.client() as client:
        for outlet, policy in (("C1", "AlwaysOn"), ("C2", "AlwaysOff"), ("C3", "LastState")):
            answer = client.patch(f"{RACK}/2/Outlets/{outlet}", json={"PowerRestorePolicy": policy})
            assert answer.status_code == 200, answer.text
            assert answer.json()["PowerRestorePolicy"] == policy
        client.post(f"{RACK}/2/Outlets/C4/Actions/Outlet.PowerControl", json={"PowerState": "Off"})
        client.patch(f"{RACK}/2/Outlets/C4", json={"PowerRestorePolicy": "LastState"})
        bad = client.patch(f"{RACK}/2/Outlets/C1", json={"PowerRestorePolicy": "Sometimes"})
        assert bad.status_code == 400
        fault = server.call(lambda: server.engine.execute(cmd.InjectFault("pdu_power_loss", "2")))
        server.tick(1)
        dark = client.get(f"{RACK}/2/Outlets/C1").json()
        assert dark["PowerState"] == "Off" and dark["PowerWatts"]["Reading"] is None
        server.call(lambda: server.engine.execute(cmd.ClearFault(fault.fault_id)))
        server.tick(1, 60)  # past every power-on delay
        states = {
            o: client.get(f"{RACK}/2/Outlets/{o}").json()["PowerState"]
            for o in ("C1", "C2", "C3", "C4")
        }
        for outlet in ("C1", "C2", "C3", "C4"):  # leave the shared server as found
            client.post(
                f"{RACK}/2/Outlets/{outlet}/Actions/Outlet.PowerControl", json={"PowerState": "On"}
            )
    assert states == {"C1": "On", "C2": "Off", "C3": "On", "C4": "Off"}


# ---------------------------------------------------------------------- asset fields
def test_user_label_and_location_are_written_once_for_rack_pdu_and_chassis(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        placement = {"Rack": "R42", "Row": "C", "RackOffset": 7, "RackOffsetUnits": "EIA_310"}
        answer = client.patch(
            f"{RACK}/1", json={"UserLabel": "Top of rack 42", "Location": {"Placement": placement}}
        )
        assert answer.status_code == 200, answer.text
        pdu = client.get(f"{RACK}/1").json()
        chassis = client.get("/redfish/v1/Chassis/1").json()
        bad = client.patch(
            "/redfish/v1/Chassis/1",
            json={"Location": {"Placement": {"Rack": "R1", "RackOffsetUnits": "Inches"}}},
        )
        after = client.get("/redfish/v1/Chassis/1").json()
    assert pdu["UserLabel"] == "Top of rack 42"
    assert pdu["Location"]["Placement"] == placement == chassis["Location"]["Placement"]
    assert pdu["UUID"] == chassis["UUID"] and pdu["PartNumber"]
    assert bad.status_code == 400
    assert after["Location"]["Placement"]["Rack"] == "R42"  # nothing of the bad PATCH applied


def test_a_reader_cannot_write_the_user_label(redfish_server: RedfishServer) -> None:
    with redfish_server.client(READER, READER_PASSWORD) as client:
        answer = client.patch(f"{RACK}/1", json={"UserLabel": "mine"})
    assert answer.status_code == 403


# ---------------------------------------------------------------------- card reboot
def test_manager_reset_answers_503_for_a_while_and_outlets_keep_power(
    card_server: RedfishServer,
) -> None:
    server = card_server
    before = server.call(lambda: server.engine.fleet.relay_on.copy())
    with server.client() as client:
        answer = client.post(
            "/redfish/v1/Managers/BMC/Actions/Manager.Reset", json={"ResetType": "ForceRestart"}
        )
        assert answer.status_code == 204
        down = client.get("/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1")
        assert down.status_code == 503
        assert int(down.headers["Retry-After"]) >= 1
        assert "ServiceTemporarilyUnavailable" in down.json()["error"]["code"]
        during = server.call(lambda: server.engine.fleet.relay_on.copy())
        wait_until_up(client)
        bad = client.post(
            "/redfish/v1/Managers/BMC/Actions/Manager.Reset", json={"ResetType": "Explode"}
        )
    assert (during == before).all()
    assert bad.status_code == 400


# ---------------------------------------------------------------------- firmware update
class ImageServer:
    """A plain HTTP file server on loopback for firmware images."""

    def __init__(self, folder: Path) -> None:
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=str(folder), **k
        )
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageServer]:
    (tmp_path / "nmc-firmware.bin").write_bytes(b"EDFW\nVERSION=9.8.7\n" + bytes(200_000))
    (tmp_path / "garbage.bin").write_bytes(b"\x00" * 1000)
    server = ImageServer(tmp_path)
    yield server
    server.close()


def follow_task(client: httpx.Client, monitor: str, deadline_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    percents = []
    while True:
        answer = client.get(monitor)
        if answer.status_code == 200:
            return {"task": answer.json(), "percents": percents}
        assert answer.status_code in (202, 503), answer.text  # 503: the card reboots after it
        if answer.status_code == 202:
            percents.append(answer.json()["PercentComplete"])
        assert time.monotonic() < deadline, "the update task did not finish"
        time.sleep(0.05)


def test_simple_update_installs_a_version_through_a_task_then_reboots(
    card_server: RedfishServer, images: ImageServer
) -> None:
    with card_server.client() as client:
        wait_until_up(client)
        answer = client.post(
            "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
            json={"ImageURI": f"{images.url}/nmc-firmware.bin", "TransferProtocol": "HTTP"},
        )
        assert answer.status_code == 202, answer.text
        monitor = answer.headers["Location"]
        done = follow_task(client, monitor)
        task = done["task"]
        assert task["TaskState"] == "Completed" and task["PercentComplete"] == 100
        assert done["percents"] == sorted(done["percents"])
        ids = [m["MessageId"].rsplit(".", 1)[-1] for m in task["Messages"]]
        assert ids[-1] == "UpdateSuccessful"
        wait_until_up(client)
        inventory = client.get("/redfish/v1/UpdateService/FirmwareInventory/BMC").json()
        manager = client.get("/redfish/v1/Managers/BMC").json()
        listed = client.get("/redfish/v1/TaskService/Tasks").json()
    assert inventory["Version"] == "9.8.7" == manager["FirmwareVersion"]
    assert task["@odata.id"] in [m["@odata.id"] for m in listed["Members"]]


def test_an_image_without_a_version_fails_its_task_and_changes_nothing(
    card_server: RedfishServer, images: ImageServer
) -> None:
    with card_server.client() as client:
        wait_until_up(client)
        version = client.get("/redfish/v1/UpdateService/FirmwareInventory/BMC").json()["Version"]
        answer = client.post(
            "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
            json={"ImageURI": f"{images.url}/garbage.bin"},
        )
        task = follow_task(client, answer.headers["Location"])["task"]
        missing = client.post(
            "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
            json={"ImageURI": "ftp://example.invalid/x.bin"},
        )
        after = client.get("/redfish/v1/UpdateService/FirmwareInventory/BMC").json()["Version"]
    assert task["TaskState"] == "Exception" and task["TaskStatus"] == "Critical"
    assert missing.status_code == 400
    assert after == version


def test_the_dmtf_redfish_library_reads_the_firmware_inventory(card_server: RedfishServer) -> None:
    with card_server.client() as client:
        wait_until_up(client)
    rf = redfish.redfish_client(
        base_url=card_server.url, username=ADMIN, password=ADMIN_PASSWORD, timeout=10
    )
    rf.login(auth="session")
    try:
        service = rf.get("/redfish/v1/UpdateService").dict
        member = service["FirmwareInventory"]["@odata.id"]
        inventory = rf.get(member).dict
        software = rf.get(inventory["Members"][0]["@odata.id"]).dict
    finally:
        rf.logout()
    assert software["Updateable"] is True and software["Version"]


# ---------------------------------------------------------------------- certificates
def _ca() -> tuple[Any, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EnergyDash test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_replace_certificate_changes_what_the_https_listener_serves(tmp_path: Path) -> None:
    settings = build_settings(tmp_path, redfish_tls=True)
    certfile, keyfile = ensure_self_signed_cert(settings)
    with serve(settings, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as server:
        with httpx.Client(base_url=server.url, verify=False, auth=(ADMIN, ADMIN_PASSWORD)) as c:
            csr_answer = c.post(
                "/redfish/v1/CertificateService/Actions/CertificateService.GenerateCSR",
                json={
                    "CertificateCollection": {
                        "@odata.id": "/redfish/v1/Managers/BMC/NetworkProtocol/HTTPS/Certificates"
                    },
                    "CommonName": "pdu-42.example",
                    "Organization": "EnergyDash tests",
                },
            )
            assert csr_answer.status_code == 200, csr_answer.text
            csr = x509.load_pem_x509_csr(csr_answer.json()["CSRString"].encode())
            ca_key, ca_cert = _ca()
            now = dt.datetime.now(dt.UTC)
            signed = (
                x509.CertificateBuilder()
                .subject_name(csr.subject)
                .issuer_name(ca_cert.subject)
                .public_key(csr.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=1))
                .not_valid_after(now + dt.timedelta(days=1))
                .sign(ca_key, hashes.SHA256())
            )
            pem = signed.public_bytes(serialization.Encoding.PEM).decode()
            uri = "/redfish/v1/Managers/BMC/NetworkProtocol/HTTPS/Certificates/1"
            wrong = c.post(
                "/redfish/v1/CertificateService/Actions/CertificateService.ReplaceCertificate",
                json={
                    "CertificateString": ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
                    "CertificateType": "PEM",
                    "CertificateUri": {"@odata.id": uri},
                },
            )
            assert wrong.status_code == 400  # a certificate for another key
            replaced = c.post(
                "/redfish/v1/CertificateService/Actions/CertificateService.ReplaceCertificate",
                json={
                    "CertificateString": pem,
                    "CertificateType": "PEM",
                    "CertificateUri": {"@odata.id": uri},
                },
            )
            assert replaced.status_code == 200, replaced.text
            listed = c.get(uri).json()
        served = ssl.get_server_certificate(("127.0.0.1", settings.port))
    assert x509.load_pem_x509_certificate(served.encode()) == signed
    assert listed["Subject"]["CommonName"] == "pdu-42.example"
    assert x509.load_pem_x509_certificate(certfile.read_bytes()) == signed  # kept for restarts
