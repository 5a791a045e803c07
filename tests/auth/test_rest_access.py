"""Every REST write: anonymous 401, ReadOnly 403, the right role 2xx; refusals change nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from auth_support import ADMIN, OPERATOR, READER, auth_settings, backend, client

from energydash.app import BackgroundServer
from energydash.sim import commands as sim


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with backend(auth_settings(tmp_path_factory.mktemp("rest-access"))) as running:
        yield running


def fingerprint(server: BackgroundServer) -> bytes:
    """Everything a REST write can change, read from the engine itself (stepped clock)."""

    def grab() -> bytes:
        app = server.app
        engine = app.state.engine
        app.state.snapshots.publish()
        hub = app.state.hub
        outlets = [hub.latest(f"pdu/{p.id}/outlets").data for p in engine.fleet.pdus]
        devices = sorted(t for t in hub.topics() if t.startswith("devices/"))
        faults = sorted((f.id, f.kind, f.pdu_id, str(f.target_id)) for f in engine.faults.values())
        groups = [[g.id for g in p.groups] for p in engine.fleet.pdus]
        sim_state = (engine.paused, engine.clock.speed)
        sites = engine.sites.to_state()
        redfish = app.state.redfish
        scenarios = sorted(redfish.scenarios.runs) if redfish.scenarios is not None else []
        wire = sorted(f.id for f in redfish.wire.current())
        equipment = [(x.id, str(x.end)) for x in app.state.equipment.labels]
        alerts = sorted((a.id, a.state) for a in app.state.analytics.book.all())
        return orjson.dumps(
            [
                outlets,
                devices,
                faults,
                groups,
                sim_state,
                sites,
                scenarios,
                wire,
                equipment,
                alerts,
            ],
            default=str,
            option=orjson.OPT_SERIALIZE_NUMPY,
        )

    return server.call(grab)


@dataclass
class Write:
    name: str
    method: str
    path: Callable[[BackgroundServer], str]
    body: dict[str, Any] | None
    privilege: str
    allowed: tuple[str, str]  # who gets 2xx
    prepare: Callable[[BackgroundServer], None] | None = None
    changes: bool = True  # False: the write is a no-op here (speed on a stepped clock)
    # Owned things (sites): the ReadOnly caller tries its own, which it may see but not change
    # (someone else's is a 404 to it, which would not test the privilege).
    readonly_path: Callable[[BackgroundServer], str] | None = None


def _group(server: BackgroundServer) -> str:
    return server.call(lambda: server.app.state.engine.fleet.pdu_info("1").groups[0].id)


def _branch(server: BackgroundServer) -> str:
    return server.call(lambda: server.app.state.engine.fleet.pdu_info("1").branches[0].id)


def _a_fault(server: BackgroundServer) -> str:
    def inject() -> str:
        engine = server.app.state.engine
        result = engine.execute(sim.InjectFault("sensor_stuck", "2", "B1"))
        return str(result.fault_id)

    return server.call(inject)


FAULT_ID: dict[str, str] = {}


def _prepare_fault(server: BackgroundServer) -> None:
    FAULT_ID["id"] = _a_fault(server)


def _free_outlet(server: BackgroundServer) -> None:
    def unplug() -> None:
        engine = server.app.state.engine
        if engine.fleet.outlet("2", "A2").device is not None:
            engine.execute(sim.RemoveDevice("2", "A2"))

    server.call(unplug)


def _device_on_a3(server: BackgroundServer) -> None:
    def plug() -> None:
        engine = server.app.state.engine
        if engine.fleet.outlet("2", "A3").device is None:
            engine.execute(sim.SetDevice("2", "A3", "server"))

    server.call(plug)


def _account_id(server: BackgroundServer, user: tuple[str, str]) -> str:
    return server.call(lambda: server.app.state.auth.account_by_name(user[0]).id)


def _operator_site(server: BackgroundServer, user: tuple[str, str] = OPERATOR) -> str:
    """The demo home of ``user`` (each account has one): a site it may see."""
    owner = _account_id(server, user)
    return server.call(lambda: server.app.state.engine.sites.site_ids(owner)[0])


def _operator_device(server: BackgroundServer, user: tuple[str, str] = OPERATOR) -> str:
    site = _operator_site(server, user)

    def first() -> str:
        sites = server.app.state.engine.sites
        return str(sites.devices.device_id[int(sites.devices_of(site)[0])])

    return server.call(first)


SPARE: dict[str, str] = {}


def _spare_site(server: BackgroundServer) -> None:
    """A site of the Operator's own to delete (made as the Operator would)."""
    with client(server, OPERATOR) as http:
        SPARE["site"] = http.post("/api/v1/sites", json={"name": "spare"}).json()["site_id"]


def _spare_device(server: BackgroundServer) -> None:
    site = _operator_site(server)
    with client(server, OPERATOR) as http:
        answer = http.post(
            f"/api/v1/sites/{site}/devices",
            json={"kind": "load", "name": "spare load", "rated_w": 1000, "profile": "server"},
        )
        SPARE["device"] = answer.json()["device_id"]


def _spare_equipment_fault(server: BackgroundServer) -> None:
    def inject() -> str:
        app = server.app
        now = app.state.engine.clock.now()
        return app.state.equipment.inject("clogged_filter", "hvac-02", now).id

    SPARE["equipment_fault"] = server.call(inject)


def _open_alert(server: BackgroundServer) -> None:
    """A relay failure the analytics turns into an open alert (stepping the stepped clock)."""

    def trip() -> None:
        engine = server.app.state.engine
        engine.execute(
            sim.InjectFault("relay_failure", "2", "B7")
        )  # a PDU and outlet no other write uses
        for _ in range(3):
            engine.step(1.0)

    server.call(trip)

    def first_open() -> str | None:
        book = server.app.state.analytics.book
        return next((a.id for a in book.all() if a.state == "open"), None)

    alert = server.call(first_open)
    assert alert is not None, "no open alert to acknowledge"
    SPARE["alert"] = alert


WRITES = [
    Write(
        "outlet power",
        "POST",
        lambda s: "/api/v1/pdus/1/outlets/A1/power",
        {"action": "Off"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "outlet rename",
        "PATCH",
        lambda s: "/api/v1/pdus/1/outlets/A4",
        {"name": "db-primary (rack 3)"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "pdu rename",
        "PATCH",
        lambda s: "/api/v1/pdus/2",
        {"name": "Rack 7 feed A"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "group power",
        "POST",
        lambda s: f"/api/v1/pdus/1/groups/{_group(s)}/power",
        {"action": "Off"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "breaker control",
        "POST",
        lambda s: f"/api/v1/pdus/1/circuits/{_branch(s)}/breaker",
        {"action": "Off"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "simulation stop",
        "POST",
        lambda s: "/api/v1/simulation",
        {"action": "stop"},
        "ConfigureManager",
        ADMIN,
    ),
    Write(
        "simulation speed",
        "POST",
        lambda s: "/api/v1/simulation",
        {"speed": 7},
        "ConfigureManager",
        ADMIN,
        changes=False,
    ),
    Write(
        "fault inject",
        "POST",
        lambda s: "/api/v1/faults",
        {"kind": "sensor_noisy", "pdu_id": "2", "target_id": "B2"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "fault clear",
        "DELETE",
        lambda s: f"/api/v1/faults/{FAULT_ID['id']}",
        None,
        "ConfigureComponents",
        OPERATOR,
        _prepare_fault,
    ),
    Write(
        "device create",
        "POST",
        lambda s: "/api/v1/devices",
        {"pdu_id": "2", "outlet_id": "A2", "profile": "server"},
        "ConfigureComponents",
        OPERATOR,
        _free_outlet,
    ),
    Write(
        "device update",
        "PATCH",
        lambda s: "/api/v1/devices/2-A3",
        {"name": "renamed"},
        "ConfigureComponents",
        OPERATOR,
        _device_on_a3,
    ),
    Write(
        "device command",
        "POST",
        lambda s: "/api/v1/devices/2-A3/commands",
        {"command": "set_power", "value": "Off"},
        "ConfigureComponents",
        OPERATOR,
        _device_on_a3,
    ),
    Write(
        "device delete",
        "DELETE",
        lambda s: "/api/v1/devices/2-A3",
        None,
        "ConfigureComponents",
        OPERATOR,
        _device_on_a3,
    ),
    Write(
        "state problems clear",
        "POST",
        lambda s: "/api/v1/simulation/state-problems/clear",
        None,
        "ConfigureManager",
        ADMIN,
        changes=False,  # nothing to clear on a clean start; tests/app covers a real clear
    ),
    Write(
        "scenario start",
        "POST",
        lambda s: "/api/v1/scenarios",
        {
            "name": "later",
            "steps": [{"at_s": 600, "power": {"pdu_id": "1", "outlet_id": "A4", "action": "Off"}}],
        },
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "wire fault inject",
        "POST",
        lambda s: "/api/v1/faults",
        {"kind": "wire_error", "pdu_id": "2", "params": {"status": 503}, "duration_s": 60},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "equipment fault inject",
        "POST",
        lambda s: "/api/v1/equipment/faults",
        {"kind": "bearing_wear", "target": "motor-01"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "equipment fault clear",
        "DELETE",
        lambda s: f"/api/v1/equipment/faults/{SPARE['equipment_fault']}",
        None,
        "ConfigureComponents",
        OPERATOR,
        lambda s: _spare_equipment_fault(s),
    ),
    Write(
        "alert ack",
        "POST",
        lambda s: f"/api/v1/alerts/{SPARE['alert']}/ack",
        None,
        "ConfigureComponents",
        OPERATOR,
        lambda s: _open_alert(s),
    ),
    Write(
        "site create",
        "POST",
        lambda s: "/api/v1/sites",
        {"name": "a new home"},
        "ConfigureComponents",
        OPERATOR,
    ),
    Write(
        "site update",
        "PATCH",
        lambda s: f"/api/v1/sites/{_operator_site(s)}",
        {"name": "renamed home"},
        "ConfigureComponents",
        OPERATOR,
        readonly_path=lambda s: f"/api/v1/sites/{_operator_site(s, READER)}",
    ),
    Write(
        "site delete",
        "DELETE",
        lambda s: f"/api/v1/sites/{SPARE['site']}",
        None,
        "ConfigureComponents",
        OPERATOR,
        _spare_site,
        readonly_path=lambda s: f"/api/v1/sites/{_operator_site(s, READER)}",
    ),
    Write(
        "site device add",
        "POST",
        lambda s: f"/api/v1/sites/{_operator_site(s)}/devices",
        {"kind": "load", "name": "kettle", "rated_w": 2000, "profile": "server"},
        "ConfigureComponents",
        OPERATOR,
        readonly_path=lambda s: f"/api/v1/sites/{_operator_site(s, READER)}/devices",
    ),
    Write(
        "site device update",
        "PATCH",
        lambda s: f"/api/v1/sites/{_operator_site(s)}/devices/{_operator_device(s)}",
        {"name": "renamed device"},
        "ConfigureComponents",
        OPERATOR,
        readonly_path=lambda s: (
            f"/api/v1/sites/{_operator_site(s, READER)}/devices/{_operator_device(s, READER)}"
        ),
    ),
    Write(
        "site device remove",
        "DELETE",
        lambda s: f"/api/v1/sites/{_operator_site(s)}/devices/{SPARE['device']}",
        None,
        "ConfigureComponents",
        OPERATOR,
        _spare_device,
        readonly_path=lambda s: (
            f"/api/v1/sites/{_operator_site(s, READER)}/devices/{_operator_device(s, READER)}"
        ),
    ),
    Write(
        "iot device update",
        "PUT",
        lambda s: f"/api/v1/devices/{_operator_device(s)}",
        {"name": "renamed over the IoT-mock API"},
        "ConfigureComponents",
        OPERATOR,
        readonly_path=lambda s: f"/api/v1/devices/{_operator_device(s, READER)}",
    ),
    Write(
        "iot device command",
        "POST",
        lambda s: f"/api/v1/devices/{_operator_device(s)}/command",
        {"command": "set_enabled", "parameters": {"enabled": False}},
        "ConfigureComponents",
        OPERATOR,
        readonly_path=lambda s: f"/api/v1/devices/{_operator_device(s, READER)}/command",
    ),
    Write(
        "iot simulation stop",
        "POST",
        lambda s: "/api/v1/simulation/stop",
        None,
        "ConfigureManager",
        ADMIN,
    ),
    Write(
        "iot simulation start",
        "POST",
        lambda s: "/api/v1/simulation/start",
        None,
        "ConfigureManager",
        ADMIN,
        lambda s: _send(s, WRITES_BY_NAME["iot simulation stop"], ADMIN) and None,
    ),
]
WRITES_BY_NAME = {w.name: w for w in WRITES}


def _send(server: BackgroundServer, write: Write, auth: tuple[str, str] | None) -> httpx.Response:
    path = write.path
    if auth == READER and write.readonly_path is not None:
        path = write.readonly_path
    with client(server, auth) as http:
        return http.request(write.method, path(server), json=write.body)


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_every_rest_write_refuses_anonymous_and_readonly_and_serves_its_role(
    server: BackgroundServer, write: Write
) -> None:
    if write.prepare is not None:
        write.prepare(server)
    before = fingerprint(server)

    anonymous = _send(server, write, None)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert anonymous.json()["reason"] == "authentication required"
    assert fingerprint(server) == before

    readonly = _send(server, write, READER)
    assert readonly.status_code == 403, readonly.text
    assert write.privilege in readonly.json()["reason"]
    assert fingerprint(server) == before

    if write.allowed == ADMIN:  # an Operator lacks ConfigureManager too
        operator = _send(server, write, OPERATOR)
        assert operator.status_code == 403 and "ConfigureManager" in operator.json()["reason"]
        assert fingerprint(server) == before

    allowed = _send(server, write, write.allowed)
    assert 200 <= allowed.status_code < 300, allowed.text
    assert (fingerprint(server) != before) is write.changes
    if write.name == "simulation stop":
        _send(server, Write("", "POST", write.path, {"action": "start"}, "", ADMIN), ADMIN)


def test_every_write_route_of_the_api_is_in_the_table(server: BackgroundServer) -> None:
    """A new write route without an entry above would go untested: fail instead."""
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, methods in paths.items()
        if path.startswith("/api/v1")
        for method in methods
        if method in ("post", "put", "patch", "delete")
    }
    covered = {
        ("POST", "/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power"),
        ("PATCH", "/api/v1/pdus/{pdu_id}/outlets/{outlet_id}"),
        ("PATCH", "/api/v1/pdus/{pdu_id}"),
        ("POST", "/api/v1/pdus/{pdu_id}/groups/{group_id}/power"),
        ("POST", "/api/v1/pdus/{pdu_id}/circuits/{circuit_id}/breaker"),
        ("POST", "/api/v1/simulation"),
        ("POST", "/api/v1/faults"),
        ("DELETE", "/api/v1/faults/{fault_id}"),
        ("POST", "/api/v1/devices"),
        ("PATCH", "/api/v1/devices/{device_id}"),
        ("POST", "/api/v1/devices/{device_id}/commands"),
        ("DELETE", "/api/v1/devices/{device_id}"),
        ("POST", "/api/v1/sites"),
        ("PATCH", "/api/v1/sites/{site_id}"),
        ("DELETE", "/api/v1/sites/{site_id}"),
        ("POST", "/api/v1/sites/{site_id}/devices"),
        ("PATCH", "/api/v1/sites/{site_id}/devices/{device_id}"),
        ("DELETE", "/api/v1/sites/{site_id}/devices/{device_id}"),
        ("PUT", "/api/v1/devices/{device_id}"),
        ("POST", "/api/v1/devices/{device_id}/command"),
        ("POST", "/api/v1/simulation/start"),
        ("POST", "/api/v1/simulation/stop"),
        ("POST", "/api/v1/simulation/state-problems/clear"),
        ("POST", "/api/v1/scenarios"),
        ("POST", "/api/v1/alerts/{alert_id}/ack"),
        ("POST", "/api/v1/suggestions/{suggestion_id}/apply"),
        ("POST", "/api/v1/equipment/faults"),
        ("DELETE", "/api/v1/equipment/faults/{fault_id}"),
    }
    # POST for the IoT-mock's sake but changes nothing (re-publishes readings): a read.
    reads_by_post = {("POST", "/api/v1/devices/{device_id}/simulate")}
    assert routes == covered | reads_by_post


def test_every_read_needs_a_credential_and_the_read_token_is_enough(
    server: BackgroundServer,
) -> None:
    token = {"Authorization": f"Bearer {server.app.state.read_token}"}
    devices = httpx.get(f"{server.url}/api/v1/devices", headers=token).json()["devices"]
    reads = [
        "/api/v1/topics",
        "/api/v1/snapshots/pdu/1/summary",
        "/api/v1/history/pdu/1/summary",
        "/api/v1/devices",
        f"/api/v1/devices/{devices[0]['device_id']}",
        "/api/v1/simulation",
        "/api/v1/faults",
        "/api/v1/audit",
        "/metrics",
    ]
    for path in reads:
        refused = httpx.get(f"{server.url}{path}")
        assert refused.status_code == 401, path
        assert "www-authenticate" in refused.headers and refused.json()["reason"]
        assert httpx.get(f"{server.url}{path}", headers=token).status_code == 200, path
        assert httpx.get(f"{server.url}{path}", auth=READER).status_code == 200, path
    assert httpx.get(f"{server.url}/health").status_code in (200, 503)  # open, no data


def test_the_read_token_cannot_change_anything(server: BackgroundServer) -> None:
    before = fingerprint(server)
    for header in ("Authorization", "X-Auth-Token"):
        value = server.app.state.read_token
        headers = {header: f"Bearer {value}" if header == "Authorization" else value}
        response = httpx.post(
            f"{server.url}/api/v1/pdus/1/outlets/A5/power", json={"action": "Off"}, headers=headers
        )
        assert response.status_code == 403
        assert "ConfigureComponents" in response.json()["reason"]
    assert fingerprint(server) == before


def test_a_redfish_session_token_works_on_rest_as_x_auth_token_and_bearer(
    server: BackgroundServer,
) -> None:
    login = httpx.post(
        f"{server.url}/redfish/v1/SessionService/Sessions",
        json={"UserName": OPERATOR[0], "Password": OPERATOR[1]},
    )
    token = login.headers["x-auth-token"]
    for headers in ({"X-Auth-Token": token}, {"Authorization": f"Bearer {token}"}):
        response = httpx.post(
            f"{server.url}/api/v1/pdus/1/outlets/A6/power", json={"action": "Off"}, headers=headers
        )
        assert response.status_code == 200, response.text


def test_metrics_are_public_only_when_configured(tmp_path) -> None:
    with backend(auth_settings(tmp_path, metrics_public=True)) as running:
        response = httpx.get(f"{running.url}/metrics")
        assert response.status_code == 200 and "energydash_hub_topics" in response.text
