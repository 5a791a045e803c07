"""`/health` (engine ticking, broker connected, queue depths) and Prometheus `/metrics`."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from energydash.api.responses import OrjsonResponse

router = APIRouter(tags=["health"])


def health_report(request: Request) -> dict[str, Any]:
    state = request.app.state
    engine = state.engine
    stats = state.stream_stats
    report: dict[str, Any] = {"status": "ok", "checks": {}}
    checks = report["checks"]
    if engine is not None:
        last = getattr(state, "last_tick_wall", None)
        age = None if last is None else time.monotonic() - last
        mode = engine.clock.mode
        stale_after = max(5.0, 5 * engine.settings.tick_s / max(engine.clock.speed, 1e-9))
        ticking = mode == "stepped" or engine.paused or (age is not None and age < stale_after)
        timing = engine.timing()
        max_lag = engine.settings.health_max_lag_s
        behind = timing["lag_s"] is not None and timing["lag_s"] > max_lag
        checks["engine"] = {
            "ok": bool(ticking) and not behind,
            **({"detail": f"engine {timing['lag_s']:.1f} s behind its clock"} if behind else {}),
            **timing,
            "max_lag_s": max_lag,
            "running": engine.running,
            "paused": engine.paused,
            "clock_mode": mode,
            "speed": engine.clock.speed,
            "tick_count": engine.tick_count,
            "sim_time": engine.clock.now().isoformat(),
            "last_tick_age_s": age,
            "last_tick_ms": engine.last_tick_ms,
        }
        checks["state"] = {
            "ok": not engine.state_problems,
            "problems": list(engine.state_problems),
            **(
                {"clear_with": "POST /api/v1/simulation/state-problems/clear (ConfigureManager)"}
                if engine.state_problems
                else {}
            ),
        }
    else:
        checks["engine"] = {"ok": True, "running": False, "detail": "no engine in this backend"}
    for name in ("ingest", "publisher"):
        part = getattr(state, f"mqtt_{name}", None)
        if part is None:
            checks[f"mqtt_{name}"] = {"ok": True, "enabled": False}
        else:
            checks[f"mqtt_{name}"] = {"ok": part.link.connected, "enabled": True, **part.stats()}
    checks["stream"] = {
        "ok": True,
        "clients": len(stats.clients),
        "max_queue_depth": stats.max_queue_depth,
        "queue_size": state.settings.ws_queue_size,
        "resyncs_total": stats.resyncs_total,
    }
    checks["hub"] = {"ok": True, "topics": len(state.hub.topics())}
    if not all(check["ok"] for check in checks.values()):
        report["status"] = "degraded"
    return report


@router.get("/health", summary="Engine ticking, broker connected, queue depths")
async def health(request: Request) -> OrjsonResponse:
    report = health_report(request)
    return OrjsonResponse(report, status_code=200 if report["status"] == "ok" else 503)


def _metric(
    lines: list[str], name: str, kind: str, help_text: str, value: float, **labels: str
) -> None:
    if not any(line.startswith(f"# TYPE {name} ") for line in lines):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")


@router.get("/metrics", summary="Prometheus text metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Needs a credential (any role) unless ENERGYDASH_METRICS_PUBLIC=true."""
    state = request.app.state
    if not state.settings.metrics_public:
        from energydash.api.deps import _caller

        await _caller(request)
    hub = state.hub
    stats = state.stream_stats
    lines: list[str] = []
    m = lines
    _metric(m, "energydash_hub_topics", "gauge", "Topics with a latest state.", len(hub.topics()))
    _metric(
        m, "energydash_hub_published_total", "counter", "Messages published.", hub.published_total
    )
    _metric(m, "energydash_ws_clients", "gauge", "Connected WebSocket clients.", len(stats.clients))
    _metric(
        m,
        "energydash_ws_connections_total",
        "counter",
        "WebSocket connections accepted.",
        stats.connections_total,
    )
    _metric(
        m,
        "energydash_ws_rejected_total",
        "counter",
        "WebSocket connections refused.",
        stats.rejected_total,
    )
    _metric(
        m,
        "energydash_ws_bad_frames_total",
        "counter",
        "Malformed client frames.",
        stats.bad_frames_total,
    )
    _metric(
        m,
        "energydash_ws_resyncs_total",
        "counter",
        "Resyncs of slow clients (connected).",
        stats.resyncs_total,
    )
    _metric(
        m,
        "energydash_ws_max_queue_depth",
        "gauge",
        "Deepest client queue now.",
        stats.max_queue_depth,
    )
    engine = state.engine
    if engine is not None:
        _metric(m, "energydash_engine_ticks_total", "counter", "Engine ticks.", engine.tick_count)
        _metric(
            m,
            "energydash_engine_tick_ms",
            "gauge",
            "Duration of the last tick.",
            engine.last_tick_ms,
        )
        timing = engine.timing()
        _metric(
            m,
            "energydash_engine_tick_period_seconds",
            "gauge",
            "Real wall time between ticks (mean of the last 10); NaN before two ticks.",
            float("nan") if timing["tick_period_s"] is None else timing["tick_period_s"],
        )
        _metric(
            m,
            "energydash_engine_tick_interval_seconds",
            "gauge",
            "Scheduled wall time between ticks.",
            timing["tick_interval_s"] or 0.0,
        )
        _metric(
            m,
            "energydash_engine_lag_seconds",
            "gauge",
            "How far the engine is behind its clock's schedule.",
            timing["lag_s"] or 0.0,
        )
        _metric(
            m,
            "energydash_state_problems",
            "gauge",
            "State-file problems not yet cleared by an operator.",
            len(engine.state_problems),
        )
        _metric(
            m,
            "energydash_engine_running",
            "gauge",
            "1 while the engine ticks.",
            int(engine.running),
        )
    publisher = getattr(state, "snapshots", None)
    if publisher is not None:
        _metric(
            m,
            "energydash_snapshot_build_ms",
            "gauge",
            "Building every topic of a tick (its own time, not the work between its slices).",
            publisher.last_build_ms,
        )
        _metric(
            m,
            "energydash_snapshot_build_slices_total",
            "counter",
            "Times a tick build handed the event loop back before going on (hub.slices).",
            publisher.slices,
        )
        _metric(
            m,
            "energydash_snapshot_pdu_sent_ms",
            "gauge",
            "From a tick's publish start until its PDU tables were written to /ws clients.",
            publisher.last_pdu_sent_ms,
        )
        _metric(
            m,
            "energydash_snapshot_refreshes_total",
            "counter",
            "Refreshes of the topics commands changed (between ticks).",
            publisher.refreshes,
        )
        _metric(
            m,
            "energydash_commands_coalesced_total",
            "counter",
            "Commands whose refresh was shared with an earlier one (load shed).",
            publisher.commands_coalesced,
        )
        _metric(
            m,
            "energydash_snapshot_pdus_deferred_total",
            "counter",
            "PDUs whose outlets and summary topics waited for a later tick (over the budget).",
            publisher.pdus_deferred,
        )
        _metric(
            m,
            "energydash_snapshot_device_pdus_deferred_total",
            "counter",
            "PDUs whose device topics waited for a later tick (over the build budget).",
            publisher.device_pdus_deferred,
        )
    for name in ("ingest", "publisher"):
        part = getattr(state, f"mqtt_{name}", None)
        if part is None:
            continue
        _metric(
            m,
            f"energydash_mqtt_{name}_connected",
            "gauge",
            "1 while connected to the broker.",
            int(part.link.connected),
        )
        for key, value in part.stats().items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                _metric(m, f"energydash_mqtt_{name}_{key}", "counter", f"MQTT {name} {key}.", value)
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
