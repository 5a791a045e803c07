"""Topic ``sources``: which grid topics a replayed dataset feeds instead of the simulator.

Published by ``hub.sources.TopicSources`` when a replay takes over (its first rows reach the
hub) and when it lets go (silent for ``replay_timeout_s``), not on every row. While ``mode`` is
``"replay"`` the simulator publishes none of the grid topics (``facilities`` and its
``market/{network}``), so every face shows the dataset alone; the dataset time of each
replayed topic is its own envelope ``ts`` (and the ``interval`` of its data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SOURCES_TOPIC = "sources"
# History of a replayed topic is kept under this prefix, apart from the simulator's own past.
REPLAY_HISTORY_PREFIX = "replay/"
MAX_DATASET_NAME = 200

Source = Literal["sim", "replay"]


def is_grid_topic(topic: str) -> bool:
    """The topics a replay takes over together: ``facilities`` and ``market/{network}``."""
    return topic == "facilities" or topic.startswith("market/")


class ReplayedTopic(BaseModel):
    topic: str = Field(description="A hub topic the replay feeds: facilities or market/{network}.")
    dataset: str | None = Field(
        None, description="The dataset's name as replay sent it (its file name), if any."
    )
    history_topic: str = Field(description="Where this replay's history is kept (replay/...).")
    started_at: datetime = Field(description="Wall time (UTC) the replay took this topic over.")


class SourcesData(BaseModel):
    """Topic ``sources``."""

    mode: Source
    datasets: list[str] = Field(default_factory=list, description="Named datasets being replayed.")
    topics: list[ReplayedTopic] = Field(default_factory=list)
    timeout_s: float = Field(description="Silence after which the simulator takes over again.")
