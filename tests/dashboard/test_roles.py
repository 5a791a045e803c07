"""What each role sees: control buttons disabled with the reason, the breaker reset button only
on a tripped branch, and the recent-actions list built from the backend's audit topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energydash.auth.store import ROLE_PRIVILEGES
from energydash.dashboard.components.controls import guarded_button
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.pages.overview import RECENT_ACTIONS, audit_items, audit_records
from energydash.dashboard.pages.pdus import breaker_rows
from energydash.dashboard.sessions import CONTROL_PRIVILEGE, SIMULATION_PRIVILEGE, DashSession
from energydash.models.audit import AUDIT_TOPIC, AuditData, AuditRecord


def session(role: str) -> DashSession:
    return DashSession(
        token="t",
        location="",
        username=role.lower(),
        role=role,
        privileges=frozenset(ROLE_PRIVILEGES[role]),
        csrf="c",
        timeout_s=60,
    )


def test_readonly_gets_disabled_controls_with_the_missing_privilege_as_tooltip() -> None:
    button = guarded_button(
        "Off", "outlet-off", CONTROL_PRIVILEGE, "btn", session=session("ReadOnly")
    )
    assert button.disabled is True
    assert button.title == "Your role (ReadOnly) lacks ConfigureComponents"
    operator = guarded_button(
        "Off", "outlet-off", CONTROL_PRIVILEGE, "btn", session=session("Operator")
    )
    assert operator.disabled is False


def test_only_administrators_may_use_the_simulation_control() -> None:
    for role, allowed in (("Administrator", True), ("Operator", False), ("ReadOnly", False)):
        button = guarded_button(
            "Stop", "sim-stop", SIMULATION_PRIVILEGE, "btn", session=session(role)
        )
        assert button.disabled is not allowed, role
    assert (
        "lacks ConfigureManager"
        in guarded_button(
            "Stop", "sim-stop", SIMULATION_PRIVILEGE, "btn", session=session("Operator")
        ).title
    )


def test_breaker_reset_is_enabled_only_on_a_tripped_branch_for_an_operator() -> None:
    frame = {
        "branches": [
            {"id": "A", "name": "Branch A", "breaker_state": "Normal"},
            {"id": "B", "name": "Branch B", "breaker_state": "Tripped"},
        ]
    }
    rows = breaker_rows(frame, session("Operator"))
    buttons = {row.children[2].id["branch"]: row.children[2] for row in rows}
    assert buttons["B"].disabled is False
    assert buttons["A"].disabled is True and buttons["A"].title == "The breaker is not tripped"
    readonly = breaker_rows(frame, session("ReadOnly"))
    tripped = readonly[1].children[2]
    assert tripped.disabled is True and "lacks ConfigureComponents" in tripped.title


def test_recent_actions_show_the_last_twenty_newest_first_from_the_audit_topic() -> None:
    feed = BackendFeed("http://127.0.0.1:9", topics=[AUDIT_TOPIC])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        AuditRecord(
            ts=start + timedelta(seconds=i),
            user="operator",
            role="Operator",
            face="dashboard",
            action="outlet.power",
            target=f"pdu/1/outlets/A{i}",
            origin="127.0.0.1:5000",
            result="ok" if i % 2 else "refused",
            detail="Off",
        )
        for i in range(30)
    ]
    feed.ingest(
        AUDIT_TOPIC, "2026-01-01T00:00:30Z", AuditData(records=records).model_dump(mode="json")
    )
    shown = audit_records(feed)
    assert len(shown) == RECENT_ACTIONS == 20
    assert shown[0].target == "pdu/1/outlets/A29" and shown[-1].target == "pdu/1/outlets/A10"
    first = audit_items(shown)[0]
    texts = [span.children for span in first.children]
    assert texts[:4] == ["00:00:29", "operator (Operator)", "outlet.power pdu/1/outlets/A29", "ok"]
    assert texts[4] == "via dashboard from 127.0.0.1:5000 · Off"


def test_recent_actions_ignore_a_malformed_audit_frame() -> None:
    feed = BackendFeed("http://127.0.0.1:9", topics=[AUDIT_TOPIC])
    feed.ingest(AUDIT_TOPIC, "2026-01-01T00:00:00Z", {"records": [{"user": "x"}]})
    assert audit_records(feed) == []
    assert audit_items([])[0].children == "No actions yet"
