"""Topic names and MQTT-style patterns: ``+`` matches one level, ``#`` the rest."""

from __future__ import annotations


def validate_pattern(pattern: str) -> str | None:
    """None when ``pattern`` is a usable topic pattern, else what is wrong with it."""
    if not pattern:
        return "empty topic"
    levels = pattern.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def is_pattern(pattern: str) -> bool:
    return "+" in pattern or "#" in pattern


def matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` (no wildcards) matches ``pattern``."""
    if pattern == topic:
        return True
    if not is_pattern(pattern):
        return False
    p_levels = pattern.split("/")
    t_levels = topic.split("/")
    for index, level in enumerate(p_levels):
        if level == "#":
            return True
        if index >= len(t_levels):
            return False
        if level != "+" and level != t_levels[index]:
            return False
    return len(p_levels) == len(t_levels)
