"""A small incremental JSON scanner for very large OpenElectricity responses.

``orjson.loads`` on a 1 GB file needs the bytes plus several times as much in Python objects.
The scanner works on a memory map instead and hands out byte spans of values, so a caller can
parse one element of ``data[]`` (or one series of ``results[]``) at a time. Structure errors and
invalid JSON inside a parsed span are reported as file:line:column.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

_WS = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SCALAR_END = re.compile(rb"[,\]}\s]")
_OPEN = {ord("["), ord("{")}
_QUOTE = ord('"')
_BOM = b"\xef\xbb\xbf"


class JsonSyntaxError(ValueError):
    """Invalid JSON; the message starts with file:line:column."""

    def __init__(self, path: Path, line: int, column: int, reason: str) -> None:
        self.path, self.line, self.column, self.reason = path, line, column, reason
        super().__init__(f"{path}:{line}:{column}: invalid JSON: {reason}")


class JsonScanner:
    """Byte spans of JSON values in a file mapped into memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("rb")
        size = path.stat().st_size
        self.buf: Any = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.size = size
        self.last_end = 0
        self.consumed_end: int | None = None

    def close(self) -> None:
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()
        self._file.close()

    def __enter__(self) -> JsonScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ errors
    def error(self, offset: int, reason: str) -> JsonSyntaxError:
        offset = max(0, min(offset, self.size))
        head = self.buf[:offset]
        line = head.count(b"\n") + 1
        column = offset - (head.rfind(b"\n") + 1) + 1
        return JsonSyntaxError(self.path, line, column, reason)

    # ------------------------------------------------------------------ scanning
    def ws(self, pos: int) -> int:
        return _WS.match(self.buf, pos).end()  # type: ignore[union-attr]

    def byte(self, pos: int) -> int | None:
        return self.buf[pos] if pos < self.size else None

    def value_end(self, pos: int) -> int:
        """End offset of the JSON value starting at ``pos``."""
        first = self.byte(pos)
        if first is None:
            raise self.error(pos, "unexpected end of file, expected a value")
        if first == _QUOTE:
            match = _STRING.match(self.buf, pos)
            if not match:
                raise self.error(pos, "unterminated string")
            return match.end()
        if first in _OPEN:
            depth = 0
            for match in _TOKEN.finditer(self.buf, pos):
                char = self.buf[match.start()]
                if char == _QUOTE:
                    continue
                if char in _OPEN:
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return match.end()
            raise self.error(self.size, "unexpected end of file inside an array or object")
        match = _SCALAR_END.search(self.buf, pos)
        end = match.start() if match else self.size
        if end == pos:
            raise self.error(pos, f"unexpected character {chr(first)!r}")
        return end

    def parse(self, start: int, end: int) -> Any:
        """orjson-parse one span; errors point into the file."""
        try:
            return orjson.loads(self.buf[start:end])
        except orjson.JSONDecodeError as error:
            raise self.error(start + error.pos, error.msg) from None

    def expect(self, pos: int, chars: bytes, what: str) -> tuple[int, int]:
        pos = self.ws(pos)
        char = self.byte(pos)
        if char is None or char not in chars:
            found = "end of file" if char is None else repr(chr(char))
            raise self.error(pos, f"expected {what}, found {found}")
        return char, pos + 1

    def value(self, start: int) -> Any:
        """Parse the value at ``start`` (and mark it consumed for the enclosing iterator)."""
        end = self.value_end(start)
        self.consumed_end = end
        return self.parse(start, end)

    def span(self, start: int) -> tuple[int, int]:
        """(start, end) of the value at ``start``, marked consumed."""
        end = self.value_end(start)
        self.consumed_end = end
        return start, end

    def _after(self, start: int) -> int:
        """End of a value the consumer handled (or scan past one it ignored)."""
        end = self.consumed_end
        self.consumed_end = None
        return end if end is not None and end > start else self.value_end(start)

    def iter_object(self, pos: int) -> Iterator[tuple[str, int]]:
        """(key, value start) of each member of the object at ``pos``.

        The consumer reads each value with ``value``/``span`` or a nested ``iter_*``, so every
        byte is scanned once; a value it ignores is skipped.
        """
        _, pos = self.expect(pos, b"{", "'{'")
        pos = self.ws(pos)
        if self.byte(pos) == ord("}"):
            self.consumed_end = self.last_end = pos + 1
            return
        while True:
            pos = self.ws(pos)
            if self.byte(pos) != _QUOTE:
                raise self.error(pos, "expected a string key")
            key_end = self.value_end(pos)
            key = self.parse(pos, key_end)
            _, pos = self.expect(key_end, b":", "':'")
            start = self.ws(pos)
            self.consumed_end = None
            yield key, start
            end = self._after(start)
            char, pos = self.expect(end, b",}", "',' or '}'")
            if char == ord("}"):
                self.consumed_end = self.last_end = pos
                return

    def iter_array(self, pos: int) -> Iterator[int]:
        """Start offset of each element of the array at ``pos`` (consumed as in iter_object)."""
        _, pos = self.expect(pos, b"[", "'['")
        pos = self.ws(pos)
        if self.byte(pos) == ord("]"):
            self.consumed_end = pos + 1
            return
        while True:
            start = self.ws(pos)
            self.consumed_end = None
            yield start
            end = self._after(start)
            char, pos = self.expect(end, b",]", "',' or ']'")
            if char == ord("]"):
                self.consumed_end = pos
                return

    def top(self) -> int:
        """Offset of the top-level value (after a UTF-8 byte order mark, which editors add)."""
        start = self.ws(3 if self.buf[:3] == _BOM else 0)
        if start >= self.size:
            raise self.error(start, "empty file, expected a JSON value")
        return start

    def check_end(self, end: int) -> None:
        """Nothing but whitespace may follow the top-level value."""
        rest = self.ws(end)
        if rest < self.size:
            raise self.error(rest, "unexpected data after the top-level value")
