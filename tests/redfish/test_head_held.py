"""An HTTP answer's head waits for its body: one write for a small answer (parser.HeadHeld)."""

from __future__ import annotations

import asyncio

from energydash.redfish.parser import HeadHeld


class Wire:
    """What reaches the socket, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_a_small_answer_leaves_in_one_write() -> None:
    async def answer() -> Wire:
        wire = Wire()
        held = HeadHeld(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(HEAD)
        held.write(b"{}")
        await asyncio.sleep(0)
        return wire

    assert asyncio.run(answer()).writes == [HEAD + b"{}"]


def test_a_streamed_head_goes_out_at_the_end_of_the_loop_turn_and_on_close() -> None:
    async def stream() -> tuple[list[bytes], list[bytes], Wire]:
        wire = Wire()
        held = HeadHeld(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(HEAD)
        before = list(wire.writes)
        await asyncio.sleep(0)  # no body this turn: the head is not kept back
        after_turn = list(wire.writes)
        held.write(b"data: 1\n\n")
        held.close()
        return before, after_turn, wire

    before, after_turn, wire = asyncio.run(stream())
    assert before == [] and after_turn == [HEAD]
    assert wire.writes == [HEAD, b"data: 1\n\n"] and wire.closed


def test_100_continue_is_not_held() -> None:
    async def go() -> Wire:
        wire = Wire()
        held = HeadHeld(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return wire

    assert asyncio.run(go()).writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
