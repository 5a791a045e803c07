"""Who may talk to the local broker, and on which topics: identities, passwords and the ACL.

Four kinds of identity, one table of rules (``rules``) that both broker engines are generated
from, so mosquitto's ACL, amqtt's ACL and the README table cannot drift apart:

- ``backend``: reads what it ingests (dataset topics, device data, commands) and writes what it
  publishes (PDU telemetry, simulated device data, status and acknowledgements).
- ``replay``: writes the dataset topics (facilities and market roots) and reads them back for
  ``replay --verify`` and ``record``; nothing else.
- ``commander``: the operator's identity; it holds ``ConfigureComponents`` and so is the only
  kind allowed to write command topics.
- a device (username = its id): writes only its own ``{device_root}/{id}/data`` and ``status``
  and reads its own ``commands``.

Service passwords come from settings, else from ``<DATA_DIR>/secrets/mqtt-<role>`` (generated
on first use, mode 0600; the path is logged once, never the value). Device passwords are shown
once by ``energydash broker add-device`` and only their hashes are kept, in
``<DATA_DIR>/secrets/mqtt-devices.json``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from energydash.auth.secrets import ensure_secret, secrets_dir, write_private
from energydash.config import Settings

log = logging.getLogger(__name__)

ServiceRole = Literal["backend", "replay", "commander"]
SERVICE_ROLES: tuple[ServiceRole, ...] = ("backend", "replay", "commander")
Access = Literal["read", "write", "readwrite"]
# The privileges each kind of identity holds, in the Redfish registry's words: command topics
# are granted from this (ConfigureComponents), not from the identity's name.
PRIVILEGES: dict[str, frozenset[str]] = {
    "backend": frozenset({"Login"}),
    "replay": frozenset(),
    "commander": frozenset({"Login", "ConfigureComponents"}),
    "device": frozenset(),
}
# One topic level, no MQTT wildcards or separators, so an id can stand in a topic and an ACL.
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEVICES_FILE = "mqtt-devices.json"
MAX_DEVICE_ENTRY_BYTES = 512
MOSQUITTO_HASH = re.compile(r"\$7\$[0-9]{1,7}\$[A-Za-z0-9+/=]{1,100}\$[A-Za-z0-9+/=]{1,200}")
ARGON2_HASH = re.compile(r"\$argon2(id|i|d)\$[A-Za-z0-9+/=,$]{1,300}")
# mosquitto_passwd's own default; the generated passwords carry 192 random bits, so the
# iteration count guards nothing a guess could reach, and each CONNECT pays for it.
PBKDF2_ITERATIONS = 101
PBKDF2_SALT_BYTES = 12


@dataclass(frozen=True, slots=True)
class Identity:
    username: str
    kind: str  # a ServiceRole or "device"
    password: str | None = None  # service identities: the client needs it, so it is kept
    mosquitto_hash: str | None = None  # devices: hashes only, the password was shown once
    argon2_hash: str | None = None

    @property
    def privileges(self) -> frozenset[str]:
        return PRIVILEGES[self.kind]


# ---------------------------------------------------------------------- credentials
def client_credentials(settings: Settings, role: ServiceRole) -> tuple[str, str]:
    """(username, password) a process uses for ``role``: settings first, else the secret file.

    The backend uses ``backend``; ``replay`` and ``record`` use ``replay``; an operator's
    tools use ``commander``. Sending them to a broker that allows anonymous clients is
    harmless, so every client sends them by default.
    """
    username, password = _configured(settings, role)
    if password:
        return username, password
    secret = ensure_secret(settings, f"mqtt-{role}")
    if secret.created:
        log.warning(
            "generated the MQTT password of identity %r in %s (mode 0600); "
            "set ENERGYDASH_MQTT%s_PASSWORD to choose one",
            username,
            secret.path,
            "" if role == "backend" else f"_{role.upper()}",
        )
    return username, secret.value


def _configured(settings: Settings, role: ServiceRole) -> tuple[str, str]:
    if role == "backend":
        return settings.mqtt_username, settings.mqtt_password.get_secret_value()
    username = getattr(settings, f"mqtt_{role}_username")
    password = getattr(settings, f"mqtt_{role}_password").get_secret_value()
    return username, password


def configured_password(settings: Settings, role: ServiceRole) -> bool:
    """True when the settings give ``role``'s password (else it is the generated one)."""
    return bool(_configured(settings, role)[1])


def service_identities(settings: Settings) -> list[Identity]:
    out = []
    for role in SERVICE_ROLES:
        username, password = client_credentials(settings, role)
        if not DEVICE_ID.fullmatch(username):  # it stands in the ACL file, one word
            setting = "ENERGYDASH_MQTT" + ("" if role == "backend" else f"_{role.upper()}")
            raise ValueError(
                f"{setting}_USERNAME={username!r}: the local broker needs 1-64 letters, digits, "
                "'.', '_' or '-'"
            )
        out.append(Identity(username, role, password=password))
    names = [i.username for i in out]
    if len(set(names)) != len(names):
        raise ValueError(f"the MQTT identities need distinct user names, got {names}")
    return out


# ---------------------------------------------------------------------- password hashes
def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """mosquitto 2's ``$7$`` hash: PBKDF2-HMAC-SHA512, ``$7$<iterations>$<salt>$<hash>`` base64."""
    salt = salt or secrets.token_bytes(PBKDF2_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def verify_mosquitto_hash(password: str, stored: str) -> bool:
    try:
        _, scheme, iterations, salt, digest = stored.split("$")
        if scheme != "7":
            return False
        computed = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def argon2_hash(password: str) -> str:
    """The PHC string amqtt's FileAuthPlugin verifies (it reads Argon2 through pwdlib)."""
    from pwdlib.hashers.argon2 import Argon2Hasher

    # Light parameters for the same reason as PBKDF2_ITERATIONS: the passwords are random, and
    # amqtt verifies the hash on every CONNECT on its one event loop.
    return Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


# ---------------------------------------------------------------------- devices
def devices_path(settings: Settings) -> Path:
    return secrets_dir(settings) / DEVICES_FILE


def load_devices(settings: Settings) -> list[Identity]:
    """The device identities added with ``energydash broker add-device`` (hashes only)."""
    path = devices_path(settings)
    if not path.exists():
        return []
    limit = (settings.mqtt_max_device_identities + 1) * MAX_DEVICE_ENTRY_BYTES
    if path.stat().st_size > limit:
        raise ValueError(f"{path}: larger than {limit} bytes; not a device identity list")
    try:
        entries = orjson.loads(path.read_bytes())["devices"]
        out = []
        for device_id, entry in sorted(entries.items()):
            hashes = (entry["mosquitto"], entry["argon2"])
            # Both end up in password files, one line per user: nothing may break a line.
            if not (
                DEVICE_ID.fullmatch(device_id)
                and MOSQUITTO_HASH.fullmatch(hashes[0])
                and ARGON2_HASH.fullmatch(hashes[1])
            ):
                raise ValueError(f"entry {device_id!r} is malformed")
            out.append(
                Identity(device_id, "device", mosquitto_hash=hashes[0], argon2_hash=hashes[1])
            )
        return out
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"{path}: not a device identity list ({error})") from None


def add_device(settings: Settings, device_id: str) -> str:
    """Create (or give a new password to) a device identity; returns the password, once."""
    if not DEVICE_ID.fullmatch(device_id):
        raise ValueError(
            f"device id {device_id!r}: 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    reserved = {username for username, _ in (_configured(settings, r) for r in SERVICE_ROLES)}
    if device_id in reserved:
        raise ValueError(f"device id {device_id!r} is the user name of a service identity")
    devices = {d.username: d for d in load_devices(settings)}
    if device_id not in devices and len(devices) >= settings.mqtt_max_device_identities:
        raise ValueError(
            f"already {len(devices)} device identities "
            f"(ENERGYDASH_MQTT_MAX_DEVICE_IDENTITIES={settings.mqtt_max_device_identities})"
        )
    password = secrets.token_urlsafe(24)
    devices[device_id] = Identity(
        device_id,
        "device",
        mosquitto_hash=mosquitto_hash(password),
        argon2_hash=argon2_hash(password),
    )
    _save_devices(settings, devices.values())
    return password


def remove_device(settings: Settings, device_id: str) -> bool:
    devices = {d.username: d for d in load_devices(settings)}
    if devices.pop(device_id, None) is None:
        return False
    _save_devices(settings, devices.values())
    return True


def _save_devices(settings: Settings, devices: Iterable[Identity]) -> None:
    body = {
        "devices": {
            d.username: {"mosquitto": d.mosquitto_hash, "argon2": d.argon2_hash}
            for d in sorted(devices, key=lambda d: d.username)
        }
    }
    write_private(devices_path(settings), orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


# ---------------------------------------------------------------------- rules
def rules(identity: Identity, settings: Settings) -> list[tuple[Access, str]]:
    """The topics ``identity`` may read (subscribe to) and write (publish to)."""
    facility = settings.mqtt_facility_root.rstrip("/")
    market = settings.mqtt_market_root.rstrip("/")
    device = settings.mqtt_device_root.rstrip("/")
    pdu = settings.mqtt_pdu_root.rstrip("/")
    out: list[tuple[Access, str]]
    if identity.kind == "backend":
        out = [
            ("read", f"{facility}/#"),
            ("read", f"{market}/#"),
            ("readwrite", f"{device}/+/data"),
            ("write", f"{device}/+/status"),
            ("read", f"{device}/+/commands"),
            # readwrite: `energydash analytics` workers log in as the backend and consume these
            ("readwrite", f"{pdu}/#"),
            ("readwrite", settings.mqtt_equipment_topic),
            ("readwrite", settings.mqtt_alerts_topic),
        ]
    elif identity.kind == "replay":
        out = [("readwrite", f"{facility}/#"), ("readwrite", f"{market}/#")]
    elif identity.kind == "commander":
        out = [
            ("read", f"{device}/+/status"),
            ("read", f"{device}/+/data"),
            ("read", f"{pdu}/#"),
            ("read", settings.mqtt_alerts_topic),
        ]
    else:
        out = [
            ("write", f"{device}/{identity.username}/data"),
            ("write", f"{device}/{identity.username}/status"),
            ("read", f"{device}/{identity.username}/commands"),
        ]
    if "ConfigureComponents" in identity.privileges:
        out.extend(("write", topic) for topic in command_topics(settings))
    return out


def command_topics(settings: Settings) -> list[str]:
    """Every topic the backend executes commands from (PDUs have none of their own today)."""
    return [f"{settings.mqtt_device_root.rstrip('/')}/+/commands"]


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """Identities and their rules, rendered for mosquitto or amqtt."""

    identities: list[Identity]
    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAccess:
        return cls(service_identities(settings) + load_devices(settings), settings)

    def mosquitto_passwd(self) -> str:
        lines = []
        for identity in self.identities:
            hashed = identity.mosquitto_hash or mosquitto_hash(identity.password or "")
            lines.append(f"{identity.username}:{hashed}")
        return "\n".join(lines) + "\n"

    def mosquitto_acl(self) -> str:
        lines = ["# Generated by energydash broker from mqtt/identities.py; edits are overwritten."]
        for identity in self.identities:
            lines.append("")
            lines.append(f"user {identity.username}")
            lines.extend(
                f"topic {access} {topic}" for access, topic in rules(identity, self.settings)
            )
        return "\n".join(lines) + "\n"

    def amqtt_passwd(self) -> str:
        lines = []
        for identity in self.identities:
            hashed = identity.argon2_hash or argon2_hash(identity.password or "")
            lines.append(f"{identity.username}:{hashed}")
        return "\n".join(lines) + "\n"

    def amqtt_acl(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """(subscribe ACL, publish ACL) per user name, as amqtt's topic-check plugin takes them."""
        subscribe: dict[str, list[str]] = {}
        publish: dict[str, list[str]] = {}
        for identity in self.identities:
            for access, topic in rules(identity, self.settings):
                if access in ("read", "readwrite"):
                    subscribe.setdefault(identity.username, []).append(topic)
                if access in ("write", "readwrite"):
                    publish.setdefault(identity.username, []).append(topic)
        return subscribe, publish
