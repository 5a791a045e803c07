"""What Redfish clients write survives a restart: labels, thresholds, event and card settings.

``<data_dir>/redfish/settings.json`` holds the Redfish-side settings: the RackPDU and Chassis
``UserLabel``, ``AssetTag`` and ``Location``, Mains ``UserLabel``, sensor ``Thresholds``, the
EventService ``DeliveryRetryAttempts`` / ``DeliveryRetryIntervalSeconds`` and the card's
firmware version after a ``SimpleUpdate``. Each per-PDU card keeps its own under its own data
folder (``data_dir/pdus/<id>``); thresholds are one set for the fleet and its cards, kept by the
fleet service. The file is written atomically with its previous good copy
(``settings.prev.json``, see ``sim.state.save``) before the write is answered, so a kill -9
right after a 200 keeps it.

Settings the simulation holds (``PowerRestorePolicy``, ``PowerEnabled``, device names, outlet
groups) are in the simulation state file, which the engine writes when such a command runs.
Accounts, the account and session policies and the subscriptions are kept by ``auth``
and ``RedfishService``.

A file that cannot be used is moved aside (``settings.json.unreadable-<time>``) and the
previous good copy is used; the reason goes to ``Engine.state_problems`` (``/health``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from energydash.sim import state

if TYPE_CHECKING:
    from energydash.redfish.service import RedfishService

log = logging.getLogger(__name__)
SETTINGS_FILE = "settings.json"
PREVIOUS_FILE = "settings.prev.json"
VERSION = 1
MAX_BYTES = 8 * 1024 * 1024  # thresholds of every sensor of a large fleet fit many times over


def settings_path(data_dir: Path) -> Path:
    return Path(data_dir) / "redfish" / SETTINGS_FILE


def payload(service: RedfishService) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "assets": service.assets.saved(),
        "event_service": {
            "DeliveryRetryAttempts": service.events.retry_attempts,
            "DeliveryRetryIntervalSeconds": service.events.retry_interval_s,
        },
        "firmware_version": service.card.firmware_version,
    }
    if service.owns_thresholds:
        body["thresholds"] = service.thresholds.saved(service.engine.fleet)
    return body


def save(service: RedfishService) -> None:
    state.save(settings_path(service.settings.data_dir), payload(service), PREVIOUS_FILE)


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        body = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(body, dict) or body.get("version") != VERSION:
        raise ValueError(f"{path}: not a version {VERSION} EnergyDash Redfish settings file")
    return body


def _apply(service: RedfishService, body: dict[str, Any], path: Path) -> None:
    """Check every section, then apply them all (a bad file changes nothing)."""
    fleet = service.engine.fleet
    retry = body.get("event_service", {})
    if not isinstance(retry, dict):
        raise ValueError(f"{path}: event_service must be an object")
    attempts = retry.get("DeliveryRetryAttempts", service.events.retry_attempts)
    interval = retry.get("DeliveryRetryIntervalSeconds", service.events.retry_interval_s)
    for name, value, low, high in (
        ("DeliveryRetryAttempts", attempts, 0, 100),
        ("DeliveryRetryIntervalSeconds", interval, 1, 3600),
    ):  # the bounds of the EventService PATCH
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{path}: event_service.{name} must be a whole number {low}-{high}")
    firmware = body.get("firmware_version", service.card.firmware_version)
    if not isinstance(firmware, str) or not 0 < len(firmware) <= 64:
        raise ValueError(f"{path}: firmware_version must be a version text")
    # each checks before it changes anything; the thresholds are put back if the assets fail
    limits = {k: v.copy() for k, v in service.thresholds.limits.items()}
    if service.owns_thresholds and "thresholds" in body:
        service.thresholds.restore(fleet, body["thresholds"], f"{path}: thresholds")
    try:
        service.assets.restore(fleet.pdus, body.get("assets", {}), f"{path}: assets")
    except ValueError:
        for family, values in limits.items():
            service.thresholds.limits[family][:] = values
        raise
    # the service defaults only: saved subscriptions carry their own retry settings
    service.events.retry_attempts = attempts
    service.events.retry_interval_s = interval
    service.card.firmware_version = firmware


def restore(service: RedfishService) -> list[str]:
    """Load the settings file, else its previous good copy; the problems met, for /health."""
    main = settings_path(service.settings.data_dir)
    previous = main.with_name(PREVIOUS_FILE)
    problems: list[str] = []
    for candidate in (main, previous):
        try:
            body = _read(candidate)
            if body is None:
                continue
            _apply(service, body, candidate)
        except (OSError, ValueError) as error:
            aside = state.move_aside(candidate) if candidate.exists() else candidate
            then = "trying the previous good copy" if candidate == main else "no good copy"
            problem = f"{error}; moved it to {aside}; {then}"
            log.error("%s", problem)
            problems.append(problem)
            continue
        log.info("restored Redfish settings from %s", candidate)
        if candidate == previous and problems:
            problems.append(f"Redfish settings restored from the previous good copy {previous}")
        break
    return problems
