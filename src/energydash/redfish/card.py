"""The PDU's network management card: its firmware, its reboots, its tasks (TaskService).

``Manager.Reset`` and the end of a firmware update reboot the card: for
``redfish_card_reboot_s`` wall seconds the Redfish service answers 503 with ``Retry-After``
(a real card does not answer at all; 503 is what the brief of a simulator can show), while
the outlets keep their power, as on a real PDU whose relays do not depend on the card.
Reboots run on the wall clock: a management card boots in seconds whatever the sim speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from energydash.redfish.registries import message

log = logging.getLogger(__name__)
TASK_LIMIT = 64
VERSION_IN_IMAGE = re.compile(rb"VERSION=([0-9A-Za-z._-]{1,32})")
VERSION_IN_NAME = re.compile(r"(\d+\.\d+(?:\.\d+){0,2}(?:[-+][0-9A-Za-z.]{1,16})?)")
DOWNLOAD_TIMEOUT_S = 30.0


@dataclass
class Task:
    """One long operation (a firmware update), as Redfish Task shows it."""

    id: str
    name: str
    started: datetime
    state: str = "New"  # New, Running, Completed, Exception
    status: str = "OK"  # OK, Warning, Critical
    percent: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    ended: datetime | None = None

    @property
    def done(self) -> bool:
        return self.state in ("Completed", "Exception", "Killed", "Cancelled")


class ManagementCard:
    """Firmware version, reboot window and the task list of one management card."""

    def __init__(self, firmware_version: str, reboot_s: float, install_s: float, max_bytes: int):
        self.firmware_version = firmware_version
        self.reboot_s = reboot_s
        self.install_s = install_s
        self.max_bytes = max_bytes
        self.boots = 0
        self.last_update: datetime | None = None
        self.tasks: OrderedDict[str, Task] = OrderedDict()
        self._task_ids = itertools.count(1)
        self._down_until = 0.0
        self._jobs: set[asyncio.Task[None]] = set()
        self.updating = False

    # ------------------------------------------------------------------ reboots
    def reset(self) -> None:
        """Start a reboot now: the service answers 503 until it is over."""
        self._down_until = time.monotonic() + self.reboot_s
        self.boots += 1
        log.info("management card rebooting for %.1f s", self.reboot_s)

    def retry_after_s(self) -> float:
        """Seconds until the card answers again (0 when it is up)."""
        return max(0.0, self._down_until - time.monotonic())

    # ------------------------------------------------------------------ tasks
    def new_task(self, name: str) -> Task:
        task = Task(str(next(self._task_ids)), name, datetime.now(UTC))
        self.tasks[task.id] = task
        while len(self.tasks) > TASK_LIMIT:
            oldest = next((t for t in self.tasks.values() if t.done), None)
            if oldest is None:
                break
            del self.tasks[oldest.id]
        return task

    # ------------------------------------------------------------------ firmware update
    def start_update(
        self, image_uri: str, auth: tuple[str, str] | None, on_event: Any = None
    ) -> Task:
        """SimpleUpdate: download, verify, install (progress in the task), then reboot."""
        task = self.new_task("Firmware update of the management card")
        self.updating = True
        job = asyncio.get_running_loop().create_task(
            self._update(task, image_uri, auth, on_event or (lambda *a: None)),
            name=f"redfish-update-{task.id}",
        )
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return task

    async def _update(
        self, task: Task, image_uri: str, auth: tuple[str, str] | None, on_event: Any
    ) -> None:
        target = "BMC"
        image = urlsplit(image_uri).path.rsplit("/", 1)[-1] or image_uri

        def note(key: str, *args: str) -> None:
            msg = message("Update", key, *args)
            task.messages.append(msg)
            on_event("Update", key, list(args))

        try:
            task.state = "Running"
            note("TargetDetermined", target, image)
            note("TransferringToComponent", image, target)
            data = await self._download(task, image_uri, auth)
            version = _version_of(data, image)
            if version is None:
                task.status = "Critical"
                note("VerificationFailed", image, target)
                task.messages[-1]["Message"] += (
                    " The image carries no VERSION=x.y.z and its name has no version."
                )
                task.state = "Exception"
                return
            note("InstallingOnComponent", image, target)
            steps = 10
            for step in range(1, steps + 1):
                await asyncio.sleep(self.install_s / steps)
                task.percent = 50 + 50 * step // steps
            self.firmware_version = version
            self.last_update = datetime.now(UTC)
            note("UpdateSuccessful", target, image)
            task.state = "Completed"
            self.reset()  # the new firmware boots
        except httpx.HTTPError as error:
            task.status = "Critical"
            note("TransferFailed", image, target)
            task.messages[-1]["Message"] += f" {type(error).__name__}: {error}"
            task.state = "Exception"
        except _TooLarge:
            task.status = "Critical"
            note("TransferFailed", image, target)
            task.messages[-1]["Message"] += f" The image is larger than {self.max_bytes} bytes."
            task.state = "Exception"
        finally:
            task.ended = datetime.now(UTC)
            self.updating = False

    async def _download(self, task: Task, uri: str, auth: tuple[str, str] | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with (
            httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_S, verify=False) as client,
            client.stream("GET", uri, auth=auth) as response,
        ):
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0)
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
                if total:
                    task.percent = min(50, 50 * size // total)
        task.percent = 50
        return b"".join(chunks)

    async def stop(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job


class _TooLarge(Exception):
    pass


def _version_of(data: bytes, name: str) -> str | None:
    """The image's version: ``VERSION=x.y.z`` in its first KiB, else a version in its name."""
    found = VERSION_IN_IMAGE.search(data[:1024])
    if found:
        return found.group(1).decode()
    named = VERSION_IN_NAME.search(name)
    return named.group(1) if named else None
