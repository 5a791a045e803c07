"""A tab's answer reaches the live pump waiting on it, whichever socket carried it."""

from __future__ import annotations

import asyncio

from energydash.dashboard.answers import PumpAnswers


def answer(renderer: str, request: str, payload: object) -> dict[str, object]:
    return {
        "type": "get_props_response",
        "rendererId": renderer,
        "requestId": request,
        "payload": payload,
    }


def test_an_answer_settles_the_request_its_tab_pump_waits_on() -> None:
    async def scenario() -> object:
        pumps = PumpAnswers()
        waiting = asyncio.get_running_loop().create_future()
        pumps.register("tab-1", {"req-1": waiting})
        assert not pumps.settle(answer("tab-2", "req-1", {"data": "other tab"}))
        assert not pumps.settle({"type": "heartbeat", "rendererId": "tab-1"})
        assert pumps.settle(answer("tab-1", "req-1", {"data": {"page": "market"}}))
        assert not pumps.settle(answer("tab-1", "req-1", {"data": "late duplicate"}))
        return await waiting

    assert asyncio.run(scenario()) == {"data": {"page": "market"}}


def test_an_ended_pump_is_forgotten_but_not_its_successor() -> None:
    pumps = PumpAnswers()
    first: dict[str, object] = {}
    second: dict[str, object] = {}
    pumps.register("tab-1", first)
    pumps.register("tab-1", second)  # the watchdog restarted the pump of the same tab
    pumps.unregister("tab-1", first)
    assert len(pumps) == 1
    pumps.unregister("tab-1", second)
    assert len(pumps) == 0


def test_malformed_messages_are_ignored_without_raising() -> None:
    pumps = PumpAnswers()
    pumps.register("tab-1", {"req-1": "not a future"})
    for message in (None, [], "text", {"type": "get_props_response"}, answer("tab-1", "req-1", 1)):
        assert not pumps.settle(message)
