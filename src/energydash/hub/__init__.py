"""In-process publish/subscribe of topic snapshots, with history rings per series."""

from energydash.hub.hub import Hub, Subscriber, TopicState
from energydash.hub.topics import matches, validate_pattern

__all__ = ["Hub", "Subscriber", "TopicState", "matches", "validate_pattern"]
