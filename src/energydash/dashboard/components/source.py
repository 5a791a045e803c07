"""Whose grid a page shows: the simulator's, or a replayed dataset's — never a mix of both.

The backend announces on the ``sources`` topic (``models.sources.SourcesData``) which grid
topics a replay feeds; while it does, the simulator publishes none of them. Pages read grid data
through ``grid_data`` (a frame from the other source is treated as absent), label it with
``source_label`` ("Replay: <dataset> · dataset time ..." or "Simulation · sim time ...", the
time being the topic's own frame time) and load its past from ``history_topic`` (a replay's
history lives under ``replay/{topic}``). ``source_banner`` also holds the key the page was
rendered for: when the source, the dataset or a replay's clock (a loop rewinds it) changes, the
tab reloads the page, so its charts are loaded again from the right history instead of
joining two clocks on one axis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from dash import MATCH, Input, Output, State, clientside_callback, dcc, html

from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.timerange import local
from energydash.models.sources import REPLAY_HISTORY_PREFIX, SOURCES_TOPIC

SETTLE_S = 5.0  # wall seconds a page waits for the new source's first frame before reloading


@dataclass(frozen=True)
class GridSource:
    mode: str  # "sim" or "replay"
    datasets: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # the grid topics the replay feeds

    @property
    def replay(self) -> bool:
        return self.mode == "replay"


def grid_source(feed: BackendFeed) -> GridSource:
    data = feed.latest(SOURCES_TOPIC) or {}
    if data.get("mode") != "replay":
        return GridSource("sim")
    topics = [str(t.get("topic")) for t in data.get("topics") or [] if isinstance(t, dict)]
    return GridSource("replay", [str(d) for d in data.get("datasets") or []], topics)


def grid_data(feed: BackendFeed, topic: str | None) -> dict[str, Any] | None:
    """The latest data of a grid topic if it comes from the source in charge, else None."""
    if topic is None:
        return None
    data = feed.latest(topic)
    if data is None:
        return None
    wanted = "replay" if grid_source(feed).replay else "sim"
    return data if data.get("source", "sim") == wanted else None


def market_topic(feed: BackendFeed, network: str) -> str | None:
    """The market topic to show: the replayed one during a replay, else ``market/{network}``."""
    source = grid_source(feed)
    topics = feed.market_topics()
    if source.replay:
        replayed = [t for t in source.topics if t.startswith("market/")]
        preferred = f"market/{network}"
        if replayed:
            return preferred if preferred in replayed else replayed[0]
    preferred = f"market/{network}"
    return preferred if preferred in topics else (topics[0] if topics else None)


def history_topic(feed: BackendFeed, topic: str) -> str:
    """Where the past of ``topic`` as now shown is stored."""
    return REPLAY_HISTORY_PREFIX + topic if grid_source(feed).replay else topic


def source_label(feed: BackendFeed, topic: str | None, zone: timezone, zone_name: str) -> str:
    """ "Replay: <datasets> · dataset time <ts>", or "Simulation · sim time <ts>"."""
    source = grid_source(feed)
    ts = feed.latest_ts(topic) if topic and grid_data(feed, topic) is not None else None
    when = f"{local(ts, zone)} {zone_name}" if ts else "no data yet"
    if source.replay:
        named = " + ".join(source.datasets) or "unnamed dataset over MQTT"
        return f"Replay: {named} · dataset time {when}"
    return f"Simulation · sim time {when}"


def source_key(feed: BackendFeed, topic: str | None) -> str:
    """Changes when a page showing ``topic`` must be drawn again: another source or dataset,
    or the replay of ``topic`` rewound its clock (a loop)."""
    source = grid_source(feed)
    epoch = feed.epoch(topic) if source.replay and topic else ""
    return f"{source.mode}|{'+'.join(source.datasets)}|{epoch}"


def source_banner(
    page: str, feed: BackendFeed, topic: str | None, zone: timezone, zone_name: str
) -> html.Div:
    """The page's grid source label, and the key it was rendered for."""
    source = grid_source(feed)
    key = source_key(feed, topic)
    return html.Div(
        [
            html.Span(
                source_label(feed, topic, zone, zone_name),
                id=f"{page}-source",
                role="status",
                **{"aria-live": "polite", "data-mode": source.mode},
            ),
            dcc.Store(id={"type": "grid-source", "page": page}, data=key),
            dcc.Store(id={"type": "grid-source-rendered", "page": page}, data=key),
        ],
        className=f"source-label source-{source.mode}",
        id=f"{page}-source-banner",
    )


def source_updates(
    page: str,
    feed: BackendFeed,
    topic: str | None,
    zone: timezone,
    zone_name: str,
    memo: dict[str, Any],
) -> list[tuple[str, dict[str, Any]]]:
    """The label's text and the page key, when they changed (for a page's streamer)."""
    updates: list[tuple[str, dict[str, Any]]] = []
    text = source_label(feed, topic, zone, zone_name)
    if memo.get("source_label") != text:
        updates.append((f"{page}-source", {"children": text}))
        memo["source_label"] = text
    key = source_key(feed, topic)
    if memo.get("source_key") != key:
        # Reload once the new source's data is here (else the page would draw an empty grid),
        # or after SETTLE_S when that source has none of this page's topic.
        since = memo.setdefault("source_changed_at", time.monotonic())
        ready = topic is None or grid_data(feed, topic) is not None
        if "source_key" in memo and not ready and time.monotonic() - since < SETTLE_S:
            return updates
        memo.pop("source_changed_at", None)
        if "source_key" in memo:  # the rendered key is in the page: compare in the browser
            mode = grid_source(feed).mode
            updates.append((f"{page}-source", {"data-mode": mode}))
            updates.append((f"{page}-source-banner", {"className": f"source-label source-{mode}"}))
        updates.append(({"type": "grid-source", "page": page}, {"data": key}))  # type: ignore[arg-type]
        memo["source_key"] = key
    return updates


# Another source or clock than the page was drawn for: draw it again from that source's past.
clientside_callback(
    """function(key, rendered) {
        if (key && rendered && key !== rendered) { window.location.reload(); }
        return window.dash_clientside.no_update;
    }""",
    Output({"type": "grid-source-rendered", "page": MATCH}, "data"),
    Input({"type": "grid-source", "page": MATCH}, "data"),
    State({"type": "grid-source-rendered", "page": MATCH}, "data"),
    prevent_initial_call=True,
)
