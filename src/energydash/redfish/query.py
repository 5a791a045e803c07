"""Redfish query options on one resource: ``$select``, ``$filter``, ``$top``/``$skip`` (paging).

``$filter`` follows the Redfish spec's grammar (DSP0266 7.3.4): comparisons ``eq ne gt ge lt le``
between a property path (``Status/Health``) and a literal (``'text'``, a number, ``true``,
``false``, ``null``), combined with ``and``, ``or``, ``not`` and parentheses. It is parsed once
into a predicate and applied to each member of a collection. Every option has a bound; a bad
value is a 400 naming the option.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from energydash.redfish import errors

MAX_FILTER_CHARS = 512
MAX_SELECT_NAMES = 64
MAX_TOP = 100_000
ANNOTATION = "@"
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<paren>[()])|(?P<word>[A-Za-z_@#][A-Za-z0-9_@#./-]*))"
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
Predicate = Callable[[dict[str, Any]], bool]


# ---------------------------------------------------------------------- $select
def select(resource: dict[str, Any], option: str) -> dict[str, Any]:
    """``$select=A,B/C``: the named properties and the OData annotations, nothing else."""
    names = [n.strip() for n in option.split(",")]
    if not option.strip() or any(not n for n in names) or len(names) > MAX_SELECT_NAMES:
        raise errors.base(400, "QueryParameterValueFormatError", option, "$select")
    if "*" in names:
        return resource
    members = resource.get("Members")
    is_collection = isinstance(members, list) and "Members" not in names
    known = set(resource)
    if is_collection:
        for member in members or []:
            known |= set(member)
    for name in names:
        if name.split("/", 1)[0] not in known:
            raise errors.base(400, "QueryParameterValueError", "$select")
    if is_collection:
        kept = {k: v for k, v in resource.items() if k.startswith(ANNOTATION) or k == "Members"}
        kept["Members"] = [
            _pick(m, names) if len(m) > 1 else m for m in resource.get("Members", [])
        ]
        return kept
    return _pick(resource, names)


def _pick(resource: dict[str, Any], names: list[str]) -> dict[str, Any]:
    picked: dict[str, Any] = {k: v for k, v in resource.items() if k.startswith(ANNOTATION)}
    for name in names:
        head, _, tail = name.partition("/")
        if head not in resource:
            continue
        value = resource[head]
        if tail and isinstance(value, dict):
            inner = picked.setdefault(head, {})
            if isinstance(inner, dict):
                inner.update(_pick(value, [tail]))
        else:
            picked[head] = value
    return picked


# ---------------------------------------------------------------------- $top / $skip
def count_option(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    raw = query[name].strip()
    if not raw.isdigit():
        raise errors.base(400, "QueryParameterValueTypeError", query[name], name)
    value = int(raw)
    if value > MAX_TOP:
        raise errors.base(400, "QueryParameterOutOfRange", raw, name, f"0-{MAX_TOP}")
    return value


# ---------------------------------------------------------------------- $filter
def parse_filter(option: str) -> Predicate:
    if not option.strip() or len(option) > MAX_FILTER_CHARS:
        raise errors.base(400, "QueryParameterValueFormatError", option[:80], "$filter")
    tokens = _tokens(option)
    parser = _Parser(tokens, option)
    predicate = parser.expression()
    if parser.pos != len(tokens):
        raise parser.error()
    return predicate


def _tokens(option: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(option):
        if option[pos:].strip() == "":
            break
        found = _TOKEN.match(option, pos)
        if found is None or found.end() == pos:
            raise errors.base(400, "QueryParameterValueFormatError", option[:80], "$filter")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        pos = found.end()
    return tokens


class _Parser:
    """expression := term ('or' term)*; term := factor ('and' factor)*;
    factor := 'not' factor | '(' expression ')' | path op literal"""

    def __init__(self, tokens: list[tuple[str, str]], option: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.option = option

    def error(self) -> errors.RedfishError:
        return errors.base(400, "QueryParameterValueFormatError", self.option[:80], "$filter")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error()
        self.pos += 1
        return token

    def expression(self) -> Predicate:
        left = self.term()
        while self.peek() == ("word", "or"):
            self.pos += 1
            right = self.term()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() == ("word", "and"):
            self.pos += 1
            right = self.factor()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def factor(self) -> Predicate:
        token = self.take()
        if token == ("word", "not"):
            inner = self.factor()
            return lambda r: not inner(r)
        if token == ("paren", "("):
            inner = self.expression()
            if self.take() != ("paren", ")"):
                raise self.error()
            return inner
        if token[0] != "word":
            raise self.error()
        path = token[1].split("/")
        op = self.take()
        if op[0] != "word" or op[1] not in COMPARISONS:
            raise self.error()
        literal = self._literal(self.take())
        return lambda r: _compare(_lookup(r, path), op[1], literal)

    def _literal(self, token: tuple[str, str]) -> Any:
        kind, text = token
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind == "word" and text in ("true", "false"):
            return text == "true"
        if kind == "word" and text == "null":
            return None
        raise self.error()


def _lookup(resource: Any, path: list[str]) -> Any:
    for name in path:
        if not isinstance(resource, dict):
            return None
        resource = resource.get(name)
    return resource


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "eq":
        return value == literal
    if op == "ne":
        return value != literal
    if value is None or literal is None:
        return False
    if isinstance(value, bool) or isinstance(literal, bool):
        return False
    if isinstance(literal, float) != isinstance(value, (int, float)):
        return False
    try:
        if op == "gt":
            return value > literal
        if op == "ge":
            return value >= literal
        if op == "lt":
            return value < literal
        return value <= literal
    except TypeError:
        return False
