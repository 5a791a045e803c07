"""Download OpenElectricity data through the SDK into the JSON files ``convert`` reads.

The SDK has no timeouts or retries, so each call runs under ``asyncio.wait_for`` (a timeout
cancels the request) and is retried with exponential backoff on timeouts, connection errors,
429 and 5xx. Facility data goes in batches of at most 30 codes (the API's cap), one file per
batch; a batch whose file exists is skipped, so a run that failed half-way resumes where it
stopped. A missing key or a 401/403 ends the run with a one-line explanation; so does every
other failure (a truncated or malformed reply included), naming the request and the cause.

Two things of the SDK 0.12 are corrected here. Its requests use absolute paths
(``/facilities/``), which aiohttp joins onto the base URL's host, dropping the ``/v4/`` of
``https://api.openelectricity.org.au/v4/``; ``_V4Session`` joins them under the base URL's path.
And on import it attaches a stdout handler at DEBUG to the ``openelectricity`` logger; that
handler is removed so its records go where the project's logging sends them (the log file).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from openelectricity import AsyncOEClient
from openelectricity.client import APIError, OpenElectricityError
from openelectricity.types import DataMetric, MarketMetric
from pydantic import ValidationError

from energydash.datasets.atomic import write_bytes_atomic

log = logging.getLogger(__name__)


def quiet_sdk_logging() -> None:
    """Drop the SDK's own stdout handler: its records propagate to the project's log."""
    sdk = logging.getLogger("openelectricity")
    for handler in list(sdk.handlers):
        sdk.removeHandler(handler)
    sdk.propagate = True
    sdk.setLevel(logging.NOTSET)


quiet_sdk_logging()


class _V4Session:
    """The SDK's aiohttp session, with its request paths joined under the base URL's path."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/") + "/"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._session.get(self._base + str(path).lstrip("/"), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _Client(AsyncOEClient):
    """The SDK's client, on ``/v4/`` paths, keeping each reply as the API sent it.

    The SDK's models drop fields they do not know; the file gets the reply itself, so every
    column of the API reaches `convert` (which validates with the same models).
    """

    last_reply: Any = None

    def _build_session(self) -> Any:
        return _V4Session(super()._build_session(), self.base_url)

    async def _handle_response(self, response: Any) -> Any:
        self.last_reply = None
        data = await super()._handle_response(response)
        self.last_reply = data
        return data

    def reply_bytes(self, response: Any) -> bytes:
        return orjson.dumps(self.last_reply) if self.last_reply is not None else _dump(response)


BATCH_SIZE = 30
KEY_HELP = (
    "set OPENELECTRICITY_API_KEY to your OpenElectricity API key "
    "(https://platform.openelectricity.org.au); it is read from the environment only"
)


class AcquireError(Exception):
    """A run that cannot go on; ``exit_code`` 2 for auth/options, 1 for the API or network."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class AcquireRequest:
    out_dir: Path
    network: str = "NEM"
    region: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    interval: str = "5m"
    metrics: list[str] = field(default_factory=lambda: ["power", "emissions"])
    market_metrics: list[str] = field(default_factory=lambda: ["price", "demand"])
    facility_codes: list[str] | None = None


@dataclass
class AcquireSummary:
    facilities: int = 0
    batches: int = 0
    downloaded: int = 0
    skipped: int = 0
    retries: int = 0
    files: list[Path] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"acquired {self.facilities} facilities in {self.batches} batches "
            f"({self.downloaded} downloaded, {self.skipped} already on disk, "
            f"{self.retries} retries)"
        )


def _dump(response: Any) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return orjson.dumps(response.model_dump(mode="json"))


def _validate_metrics(names: list[str], enum: Any, option: str) -> list[Any]:
    out = []
    for name in names:
        try:
            out.append(enum(name))
        except ValueError:
            known = ", ".join(m.value for m in enum)
            raise AcquireError(f"{option}: unknown metric {name!r}; known: {known}", 2) from None
    return out


class Acquirer:
    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        on_batch: Callable[[int, int], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not api_key:
            raise AcquireError(f"no API key: {KEY_HELP}", 2)
        self.api_key = api_key
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.on_batch = on_batch or (lambda _d, _t: None)
        self.log = log or (lambda _m: None)
        self.summary = AcquireSummary()

    async def _call(self, what: str, factory: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return await asyncio.wait_for(factory(), self.timeout_s)
            except APIError as error:
                if error.status_code in (401, 403):
                    raise AcquireError(
                        f"the OpenElectricity API refused the key ({error.status_code}: "
                        f"{error.detail}); {KEY_HELP}",
                        2,
                    ) from None
                if error.status_code != 429 and error.status_code < 500:
                    raise AcquireError(
                        f"{what}: API error {error.status_code}: {error.detail}"
                    ) from None
                reason = f"API error {error.status_code}"
            except TimeoutError:
                reason = f"no answer in {self.timeout_s:g} s"
            except aiohttp.ClientPayloadError as error:
                reason = f"the reply was cut short ({error})"
            except (aiohttp.ClientError, OSError) as error:
                reason = f"connection failed: {error or type(error).__name__}"
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise AcquireError(
                    f"{what}: the reply is not the response the SDK expects: {where}: "
                    f"{first['msg']}"
                ) from None
            except ValueError as error:  # json.JSONDecodeError: a reply truncated mid-body
                reason = f"the reply is not valid JSON (truncated?): {error}"
            except Exception as error:  # one line with the cause, the traceback in the log
                log.exception("%s failed", what)
                raise AcquireError(f"{what}: {type(error).__name__}: {error}") from None
            if attempt >= self.retries:
                raise AcquireError(f"{what}: {reason}; gave up after {attempt + 1} attempts")
            wait = self.backoff_s * (2**attempt)
            attempt += 1
            self.summary.retries += 1
            self.log(f"{what}: {reason}; retry {attempt}/{self.retries} in {wait:g} s")
            await asyncio.sleep(wait)

    async def run(self, request: AcquireRequest) -> AcquireSummary:
        metrics = _validate_metrics(request.metrics, DataMetric, "--metrics")
        market_metrics = _validate_metrics(request.market_metrics, MarketMetric, "--market-metrics")
        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        try:
            client = _Client(api_key=self.api_key, base_url=self.base_url)
        except OpenElectricityError as error:
            raise AcquireError(str(error), 2) from None
        async with client:
            facilities_path = out / "facilities.json"
            if facilities_path.exists():
                self.summary.skipped += 1
                payload = orjson.loads(facilities_path.read_bytes())
            else:
                response = await self._call(
                    "facilities",
                    lambda: client.get_facilities(
                        facility_code=request.facility_codes,
                        network_id=[request.network],
                        network_region=request.region,
                    ),
                )
                data = client.reply_bytes(response)
                write_bytes_atomic(facilities_path, data)
                self.summary.downloaded += 1
                payload = orjson.loads(data)
            self.summary.files.append(facilities_path)
            codes = sorted(f["code"] for f in payload.get("data", []))
            self.summary.facilities = len(codes)
            batches = [codes[i : i + BATCH_SIZE] for i in range(0, len(codes), BATCH_SIZE)]
            self.summary.batches = len(batches)
            batch_dir = out / "facility_data"
            for number, batch in enumerate(batches, 1):
                key = orjson.dumps(
                    [batch, request.metrics, request.interval, str(request.start), str(request.end)]
                )
                path = batch_dir / f"batch-{number:04d}-{hashlib.sha1(key).hexdigest()[:8]}.json"
                self.summary.files.append(path)
                if path.exists():
                    self.summary.skipped += 1
                else:
                    response = await self._call(
                        f"facility data batch {number}/{len(batches)}",
                        lambda batch=batch: client.get_facility_data(
                            request.network,  # type: ignore[arg-type]
                            facility_code=batch,
                            metrics=metrics,
                            interval=request.interval,  # type: ignore[arg-type]
                            date_start=request.start,
                            date_end=request.end,
                        ),
                    )
                    write_bytes_atomic(path, client.reply_bytes(response))
                    self.summary.downloaded += 1
                self.on_batch(number, len(batches))
            if market_metrics:
                market_path = out / "market.json"
                self.summary.files.append(market_path)
                if market_path.exists():
                    self.summary.skipped += 1
                else:
                    response = await self._call(
                        "market",
                        lambda: client.get_market(
                            request.network,  # type: ignore[arg-type]
                            metrics=market_metrics,
                            interval=request.interval,  # type: ignore[arg-type]
                            date_start=request.start,
                            date_end=request.end,
                            primary_grouping="network_region",
                            network_region=request.region,
                        ),
                    )
                    write_bytes_atomic(market_path, client.reply_bytes(response))
                    self.summary.downloaded += 1
        return self.summary
