"""Every REST body, query and path id is bounded: a refusal is a 4xx naming the place, no 500,
nothing changed, and the engine keeps ticking."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.app import create_app
from energydash.config import Settings

ADMIN = ("admin", "energydash")  # sent always: the routes are open today, authenticated later


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from energydash.config import load_settings

    settings: Settings = load_settings(
        data_dir=tmp_path_factory.mktemp("bounds"),
        clock_mode="stepped",
        pdu_count=2,
        grid_facility_count=10,
        mqtt_ingest=False,
        mqtt_publish=False,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def fingerprint(client: TestClient) -> bytes:
    """Everything a refused request must leave as it was."""
    engine = client.app.state.engine
    payload: dict[str, Any] = client.portal.call(engine._payload)
    payload.pop("saved_at")
    faults = [(f.id, f.kind, f.pdu_id, f.target_id, f.params) for f in engine.faults.values()]
    extra = [engine.clock.speed, engine.paused, faults, client.app.state.hub.topics()]
    return orjson.dumps([payload, extra], option=orjson.OPT_SERIALIZE_NUMPY, default=str)


def _ok_after(client: TestClient, before: bytes, response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body.get("error") or body.get("detail") or body.get("reason"), body
        assert fingerprint(client) == before, response.text[:300]
    engine = client.app.state.engine
    ticks = engine.tick_count
    client.portal.call(engine.step)  # never stalled
    assert engine.tick_count == ticks + 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.sampled_from(["1", "2", "A1", "C16", "1-A1", "0", "-1", "..", "%2e%2e"]),
    st.text(min_size=1, max_size=80).filter(
        lambda s: "/" not in s and "?" not in s and "#" not in s
    ),
)


def _dumps(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()  # stdlib: integers beyond 64 bits too


def _send(client: TestClient, method: str, url: str, body: Any = None) -> Any:
    content = None if body is None else _dumps(body)
    headers = {"content-type": "application/json"} if content is not None else {}
    return client.request(method, url, content=content, headers=headers, auth=ADMIN)


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(
        [
            ("POST", "/api/v1/pdus/{a}/outlets/{b}/power"),
            ("POST", "/api/v1/simulation"),
            ("POST", "/api/v1/faults"),
            ("DELETE", "/api/v1/faults/{a}"),
            ("POST", "/api/v1/devices"),
            ("PATCH", "/api/v1/devices/{a}"),
            ("POST", "/api/v1/devices/{a}/commands"),
        ]
    ),
    a=ids,
    b=ids,
    body=json_values,
)
def test_any_rest_body_is_answered_without_a_500_and_a_refusal_changes_nothing(
    client: TestClient, route: tuple[str, str], a: str, b: str, body: Any
) -> None:
    method, template = route
    before = fingerprint(client)
    url = template.format(a=quote(a, safe=""), b=quote(b, safe=""))
    response = _send(client, method, url, body)
    _ok_after(client, before, response)


fault_bodies = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            ["branch_overload", "sensor_noisy", "sensor_stuck", "comm_loss", "relay_failure"]
        ),
        "pdu_id": st.sampled_from(["1", "2", "9"]),
        "target_id": st.sampled_from([None, "A", "B", "A1", "C16", "Z"]),
        "params": st.none()
        | st.dictionaries(st.sampled_from(["multiple", "sigma", "x"]), json_values, max_size=2),
    }
)


@hsettings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=fault_bodies)
def test_fault_bodies_are_checked_before_anything_is_injected(
    client: TestClient, body: dict[str, Any]
) -> None:
    before = fingerprint(client)
    response = _send(client, "POST", "/api/v1/faults", body)
    _ok_after(client, before, response)
    if response.status_code == 201:
        fault_id = response.json()["fault_id"]
        client.portal.call(client.app.state.engine._payload)  # a save can encode the fault
        assert _send(client, "DELETE", f"/api/v1/faults/{fault_id}").status_code == 204


@pytest.mark.parametrize(
    "params",
    [{"multiple": 2**64}, {"multiple": 10**400}, {"multiple": True}, {"multiple": "2"}, {"x": 1}],
    ids=["2^64", "10^400", "bool", "text", "unknown name"],
)
def test_an_out_of_range_fault_parameter_is_refused_naming_it(
    client: TestClient, params: dict[str, Any]
) -> None:
    before = fingerprint(client)
    body = {"kind": "branch_overload", "pdu_id": "1", "target_id": "A", "params": params}
    response = _send(client, "POST", "/api/v1/faults", body)
    assert response.status_code == 422
    assert f"params.{next(iter(params))}" in response.text
    assert fingerprint(client) == before


@pytest.mark.parametrize("speed", [1e-9, 0.0, -1.0, 1e6, "Infinity", "NaN", 2**64])
def test_a_speed_outside_the_documented_range_is_refused(client: TestClient, speed: Any) -> None:
    before = fingerprint(client)
    text = speed if isinstance(speed, str) else None
    content = f'{{"speed": {text}}}'.encode() if text else _dumps({"speed": speed})
    response = client.post(
        "/api/v1/simulation",
        content=content,
        headers={"content-type": "application/json"},
        auth=ADMIN,
    )
    assert response.status_code == 422, response.text
    assert "speed" in response.text
    assert fingerprint(client) == before


@hsettings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    topic=st.sampled_from(["pdu/1/summary", "pdu/1/outlets", "market/NEM", "facilities"]) | ids,
    step_s=st.none()
    | st.sampled_from(["inf", "-inf", "nan", "1e-300", "0", "1e308", "abc"])
    | st.floats().map(repr),
    start=st.none() | st.sampled_from(["0001-01-01", "9999-12-31T23:59:59", "x", "2025-01-15"]),
    end=st.none() | st.sampled_from(["0001-01-01", "9999-12-31T23:59:59+14:00", "2026"]),
    series=st.none() | st.lists(st.text(max_size=12), max_size=3),
    fmt=st.sampled_from(["json", "csv", "xml"]),
)
def test_any_history_query_is_answered_without_a_500(
    client: TestClient,
    topic: str,
    step_s: str | None,
    start: str | None,
    end: str | None,
    series: list[str] | None,
    fmt: str,
) -> None:
    params: dict[str, Any] = {"format": fmt}
    for name, value in (("step_s", step_s), ("start", start), ("end", end), ("series", series)):
        if value is not None:
            params[name] = value
    before = fingerprint(client)
    url = f"/api/v1/history/{quote(topic, safe='/')}"
    response = client.get(url, params=params, auth=ADMIN)
    _ok_after(client, before, response)
    if step_s is not None and response.status_code == 200:
        assert math.isfinite(float(step_s)) and float(step_s) >= 0.001


def test_a_csv_download_of_a_non_latin1_topic_names_it_in_the_header(client: TestClient) -> None:
    hub = client.app.state.hub
    client.portal.call(lambda: hub.publish("devices/机柜-Ω", {"power_w": 1.0}))
    response = client.get("/api/v1/history/devices/机柜-Ω", params={"format": "csv"}, auth=ADMIN)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert "filename*=UTF-8''devices_%E6%9C%BA%E6%9F%9C-%CE%A9.csv" in disposition
    assert response.text.startswith("timestamp,")


@pytest.mark.parametrize("step_s", ["inf", "1e-300", "nan"])
def test_a_history_step_out_of_range_is_refused_naming_step_s(
    client: TestClient, step_s: str
) -> None:
    response = client.get("/api/v1/history/pdu/1/summary", params={"step_s": step_s}, auth=ADMIN)
    assert response.status_code == 422
    assert "step_s" in response.text
