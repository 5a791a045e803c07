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
        checks["engine"] = {
            "ok": bool(ticking),
            "running": engine.running,
            "paused": engine.paused,
            "clock_mode": mode,
            "speed": engine.clock.speed,
            "tick_count": engine.tick_count,
            "sim_time": engine.clock.now().isoformat(),
            "last_tick_age_s": age,
            "last_tick_ms": engine.last_tick_ms,
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

        _caller(request)
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
            "Building every topic of a tick.",
            publisher.last_build_ms,
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
