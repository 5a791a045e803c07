"""The DMTF message registries the service speaks: Base, Power, ResourceEvent, SensorEvent, Update.

Loaded once from the packaged copies of DMTF's registry files (``registry_files/``, identical to
``../shared/redfish/registries``; SensorEvent 1.1.0 and Update 1.3.0 come from DMTF's
Redfish-Publications 2025.4, which the shared folder lacks). ``message(prefix, key, *args)``
fills a message's ``%1``.. placeholders and returns a ``Message`` object as error bodies,
events and log entries carry it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

# DMTF's published files, shipped with the package (the same as ../shared/redfish/registries)
PACKAGED_DIR = Path(__file__).resolve().parent / "registry_files"
SHARED_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "redfish" / "registries"
_FALLBACK_DIRS = (PACKAGED_DIR, SHARED_DIR)
REGISTRY_FILES = {
    "Base": "Base.1.22.1.json",
    "Power": "Power.1.2.0.json",
    "ResourceEvent": "ResourceEvent.1.4.3.json",
    "SensorEvent": "SensorEvent.1.1.0.json",
    "Update": "Update.1.3.0.json",
}


def registry_dir() -> Path:
    """Where the registry JSON files are: the packaged copy, else the shared folder."""
    for folder in _FALLBACK_DIRS:
        if (folder / REGISTRY_FILES["Base"]).is_file():
            return folder
    raise FileNotFoundError(
        f"Redfish registries not found in any of {[str(d) for d in _FALLBACK_DIRS]}"
    )


@functools.cache
def load(name: str) -> dict[str, Any]:
    """A registry document by prefix ("Base", "Power", "ResourceEvent") or file name."""
    filename = REGISTRY_FILES.get(name, name)
    return json.loads((registry_dir() / filename).read_text(encoding="utf-8"))


def message_id(prefix: str, key: str) -> str:
    """``Base.1.22.PropertyUnknown``: prefix, major.minor version, key (as Redfish requires)."""
    version = load(prefix)["RegistryVersion"]
    major, minor, _ = version.split(".")
    return f"{prefix}.{major}.{minor}.{key}"


def message(prefix: str, key: str, *args: Any, related: list[str] | None = None) -> dict[str, Any]:
    """A filled-in Message.v1 object for ``prefix.key`` with its args."""
    entry = load(prefix)["Messages"][key]
    expected = entry["NumberOfArgs"]
    if len(args) != expected:
        raise ValueError(f"{prefix}.{key} takes {expected} args, got {len(args)}")
    text = entry["Message"]
    str_args = [str(a) for a in args]
    # replace %10 before %1: go from the highest index down
    for index in range(expected, 0, -1):
        text = text.replace(f"%{index}", str_args[index - 1])
    severity = entry.get("MessageSeverity") or entry.get("Severity", "OK")
    body: dict[str, Any] = {
        "@odata.type": "#Message.v1_1_1.Message",
        "MessageId": message_id(prefix, key),
        "Message": text,
        "MessageArgs": str_args,
        "MessageSeverity": severity,
        "Resolution": entry.get("Resolution", "None."),
    }
    if related:
        body["RelatedProperties"] = related
    return body


def severity_of(prefix: str, key: str) -> str:
    entry = load(prefix)["Messages"][key]
    return entry.get("MessageSeverity") or entry.get("Severity", "OK")
