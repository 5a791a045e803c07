"""The per-tab live pump: one persistent WebSocket callback per browser tab.

It has no Output; Dash starts it when the tab loads (its only Input, the shell's ``pump-kick``
store, is in the layout). Each round it waits on the shared backend feed, asks the tab which
page and selection it shows (the ``view`` store), and pushes only that page's changes with
``set_props``: `Patch`es, never whole figures per tick and never ``extendData`` (see
``refuse_extend``). It beats once a
round (``data-beat`` on the connection badge); ``assets/watchdog.js`` marks the badge stale
and kicks the pump again when the beat stops (socket re-established, tab reloaded while the
shared socket lived on). Its local variables are the tab's own memory of what it sent, so
nothing per-user lives at module level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, callback, ctx, set_props
from dash.exceptions import PreventUpdate, WebsocketDisconnected

from energydash.dashboard.components.alerts import count_updates
from energydash.dashboard.components.status import describe
from energydash.dashboard.context import DashboardContext, get_context

log = logging.getLogger(__name__)

Updates = list[tuple[str, dict[str, Any]]]
# page name -> function(view, context, memo) -> [(component id, props)]; filled at import.
Streamer = Callable[[dict[str, Any], DashboardContext, dict[str, Any]], Updates]
STREAMERS: dict[str, Streamer] = {}
VIEW_TIMEOUT_S = 5.0


def refuse_extend(updates: Updates) -> Updates:
    """``updates`` without any ``extendData``, each one dropped logged as an error.

    In dash-core-components 4.4.1 an extension reaching a graph together with a new figure is
    replayed onto other graphs later (issue 15: Price showed demand values), so live points go
    as figure ``Patch``es (``charts.append_points``) and an extension never reaches the page.
    """
    kept: Updates = []
    for component_id, props in updates:
        if "extendData" in props:
            log.error("dropped extendData for %s: send a figure Patch instead", component_id)
            props = {k: v for k, v in props.items() if k != "extendData"}
            if not props:
                continue
        kept.append((component_id, props))
    return kept


def streamer(page: str) -> Callable[[Streamer], Streamer]:
    """Register the function that turns feed changes into one page's updates."""

    def register(function: Streamer) -> Streamer:
        STREAMERS[page] = function
        return function

    return register


_registered: list[bool] = []


def register_pump_once() -> None:
    """Define the pump callback, once per process (Dash keeps callbacks process-wide)."""
    if _registered:
        return
    _registered.append(True)

    @dash.hooks.websocket_message()
    def answer_reaches_its_pump(websocket, message):  # type: ignore[no-untyped-def]
        """A tab's answer settles its pump's question on whichever socket it came (answers.py)."""
        context: DashboardContext = websocket.scope["app"].state.energydash
        context.pumps.settle(message)
        return True

    @callback(Input("pump-kick", "data"), websocket=True, persistent=True)
    async def live_pump(_kick: int | None) -> None:
        socket = ctx.websocket
        if socket is None:
            raise PreventUpdate
        context = get_context()
        feed = context.feed
        feed.ensure_started()
        stale_after_s = context.settings.dashboard_stale_after_s
        memo: dict[str, Any] = {}
        seen_version = -1
        last_badge: tuple[str, str] | None = None
        last_counts: Any = None
        last_view: Any = None
        beat = 0
        # Dash keeps no public handle on either (answers.py says why the pump needs them);
        # without them a later Dash falls back to the view timeout and the watchdog.
        renderer_id = str(getattr(socket, "_renderer_id", ""))
        pending = getattr(socket, "_get_pending_get_props", lambda: None)()
        if isinstance(pending, dict):
            context.pumps.register(renderer_id, pending)
        try:
            while not socket.is_shutdown:
                changed = await feed.wait_for_change(seen_version, 1.0)
                beat += 1  # assets/watchdog.js restarts the pump when this stops moving
                set_props("conn-status", {"data-beat": beat})
                badge = describe(feed.status(), stale_after_s)
                if badge != last_badge:
                    set_props("conn-text", {"children": badge[0]})
                    set_props("conn-status", {"className": badge[1]})
                    last_badge = badge
                counts = count_updates(feed.latest("alerts"))
                if counts != last_counts:  # the header's open alerts, on every page
                    for component_id, props in counts:
                        set_props(component_id, props)
                    last_counts = counts
                try:
                    view = await socket.get_prop("view", "data", timeout=VIEW_TIMEOUT_S)
                except TimeoutError:
                    # The tab that started this pump is gone (e.g. reloaded while the shared
                    # socket lived on); its new page runs a pump of its own.
                    log.debug("tab did not answer for %s s; its live pump ends", VIEW_TIMEOUT_S)
                    break
                log.debug("tab %s view %s", renderer_id[:8], view)
                if not isinstance(view, dict) or view.get("page") not in STREAMERS:
                    continue
                if not changed and view == last_view:
                    continue
                seen_version = feed.version
                last_view = view
                if view.get("mount") != memo.get("mount"):  # a freshly rendered page
                    memo.clear()
                    memo["mount"] = view.get("mount")
                try:
                    updates = refuse_extend(STREAMERS[view["page"]](view, context, memo))
                except Exception:  # a bad frame must not end the tab's stream
                    log.exception("live update of page %s failed", view.get("page"))
                    continue
                for component_id, props in updates:
                    set_props(component_id, props)
                if updates:  # the frame time these updates show (bench/dashboard_render.py)
                    set_props("conn-status", {"data-ts": feed.last_ts})
        except WebsocketDisconnected:
            pass
        finally:
            if isinstance(pending, dict):
                context.pumps.unregister(renderer_id, pending)
        raise PreventUpdate
