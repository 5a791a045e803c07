"""A local stand-in for the OpenElectricity v4 API, serving data from ``datasets generate``.

It answers only the real API's paths (``/v4/facilities/``, ``/v4/data/facilities/{network}``,
``/v4/market/network/{network}``; anything else is a 404, so a client that drops the ``/v4``
fails here as it would there), checks the bearer key like the real API (401 otherwise), and
can be told to fail: ``faults`` is a list of (path fragment, kind) consumed in order, so a test
can put a failure in the middle of a run. Kinds: "500"; "slow" (longer than the test's timeout);
"truncated" (the JSON cut in half, Content-Length matching); "cut" (the connection closes
before the declared Content-Length).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from energydash.net import free_port


def build_app(dataset: Path, api_key: str) -> FastAPI:
    facilities = orjson.loads((dataset / "facilities.json").read_bytes())
    facility_data = orjson.loads((dataset / "facility_data.json").read_bytes())
    market = orjson.loads((dataset / "market.json").read_bytes())
    unit_owner = {u["code"]: f["code"] for f in facilities["data"] for u in f["units"]}
    app = FastAPI()
    app.state.faults: list[tuple[str, str]] = []
    app.state.requests: list[str] = []

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        app.state.requests.append(str(request.url))
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return JSONResponse({"detail": "Invalid API key"}, status_code=401)
        for i, (fragment, kind) in enumerate(app.state.faults):
            if fragment in request.url.path:
                del app.state.faults[i]
                if kind == "500":
                    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
                if kind in ("truncated", "cut"):
                    response = await call_next(request)
                    body = b"".join([chunk async for chunk in response.body_iterator])
                    half = body[: len(body) // 2]
                    length = len(half) if kind == "truncated" else len(body)
                    return Response(
                        half,
                        media_type="application/json",
                        headers={"content-length": str(length)},
                    )
                await asyncio.sleep(3.0)  # "slow": longer than the test's timeout
                break
        return await call_next(request)

    def ok(payload: dict[str, Any]) -> Response:
        return Response(orjson.dumps(payload), media_type="application/json")

    @app.get("/v4/facilities/")
    async def get_facilities(facility_code: list[str] | None = Query(None)) -> Response:
        data = [f for f in facilities["data"] if not facility_code or f["code"] in facility_code]
        return ok({**facilities, "data": data, "total_records": len(data)})

    @app.get("/v4/data/facilities/{network}")
    async def get_facility_data(
        network: str,
        facility_code: list[str] = Query(...),
        metrics: list[str] = Query(...),
    ) -> Response:
        if len(facility_code) > 30:
            return JSONResponse({"detail": "at most 30 facility codes"}, status_code=422)
        wanted = set(facility_code)
        series = []
        for element in facility_data["data"]:
            if element["metric"] not in metrics:
                continue
            results = [
                r for r in element["results"] if unit_owner[r["columns"]["unit_code"]] in wanted
            ]
            series.append({**element, "results": results})
        return ok({**facility_data, "data": series})

    @app.get("/v4/market/network/{network}")
    async def get_market(network: str, metrics: list[str] = Query(...)) -> Response:
        series = [e for e in market["data"] if e["metric"] in metrics]
        return ok({**market, "data": series})

    return app


class OeServer:
    """The fake API on a loopback port, on a thread; ``base_url`` is what the SDK gets."""

    def __init__(self, dataset: Path, api_key: str) -> None:
        self.app = build_app(dataset, api_key)
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v4/"

    @property
    def faults(self) -> list[tuple[str, str]]:
        return self.app.state.faults

    @property
    def requests(self) -> list[str]:
        return self.app.state.requests

    def __enter__(self) -> OeServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenElectricity server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
