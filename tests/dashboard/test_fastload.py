"""The first load's helpers: static files answered gzip from memory, within a byte budget and
without changing what the app answers; the dashboard's plotly.js bundle holds every trace type
a page draws (issue 15: a lighter page)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from energydash.config import Settings
from energydash.dashboard.app import create_dash_app
from energydash.dashboard.fastload import (
    ASSETS,
    PLOTLY_BUNDLE,
    PLOTLY_TRACES,
    StaticGzipCache,
    index_string,
)

SCRIPT = b"function f() { return 'energydash'; }\n" * 500


def static_app(calls: list[str]) -> Starlette:
    async def script(request: Request) -> Response:
        calls.append(request.url.path)
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304)
        return Response(SCRIPT, media_type="text/javascript", headers={"ETag": '"v1"'})

    async def missing(request: Request) -> Response:
        calls.append(request.url.path)
        return PlainTextResponse("no such file", status_code=404)

    async def page(request: Request) -> Response:
        calls.append(request.url.path)
        return PlainTextResponse("a page " * 400)

    return Starlette(
        routes=[
            Route("/assets/app.js", script),
            Route("/assets/big.js", script),
            Route("/assets/missing.js", missing),
            Route("/pdus", page),
        ]
    )


GZIP = {"Accept-Encoding": "gzip"}


def test_a_static_file_is_compressed_once_then_answered_from_memory() -> None:
    calls: list[str] = []
    with TestClient(StaticGzipCache(static_app(calls), max_bytes=1_000_000)) as client:
        first = client.get("/assets/app.js?m=1", headers=GZIP)
        second = client.get("/assets/app.js?m=1", headers=GZIP)
    assert calls == ["/assets/app.js"]  # the app answered once
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert answer.content == SCRIPT  # the client decoded the gzip body
        assert answer.headers["etag"] == '"v1"'
        assert int(answer.headers["content-length"]) < len(SCRIPT) / 10


def test_validators_errors_pages_and_plain_clients_reach_the_app() -> None:
    calls: list[str] = []
    with TestClient(StaticGzipCache(static_app(calls), max_bytes=1_000_000)) as client:
        client.get("/assets/app.js", headers=GZIP)
        revalidated = client.get("/assets/app.js", headers={**GZIP, "If-None-Match": '"v1"'})
        assert revalidated.status_code == 304
        for _ in range(2):
            missing = client.get("/assets/missing.js", headers=GZIP)
            assert missing.status_code == 404 and missing.text == "no such file"
        plain = client.get("/assets/app.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == SCRIPT
        client.get("/pdus", headers=GZIP)
        client.get("/pdus", headers=GZIP)
    assert calls == [
        *["/assets/app.js"] * 2,  # kept, then revalidated by the app
        *["/assets/missing.js"] * 2,  # a 404 is never kept
        "/assets/app.js",  # no gzip accepted: the app's own answer
        *["/pdus"] * 2,  # not a static file
    ]


def test_the_memory_held_stays_within_its_budget() -> None:
    calls: list[str] = []
    one_body = len(gzip.compress(SCRIPT, 9, mtime=0))
    cache = StaticGzipCache(static_app(calls), max_bytes=one_body + 10)
    with TestClient(cache) as client:
        client.get("/assets/app.js", headers=GZIP)
        client.get("/assets/big.js", headers=GZIP)  # the least recently used (app.js) goes
        assert cache.kept_bytes <= one_body + 10
        client.get("/assets/big.js", headers=GZIP)
        client.get("/assets/app.js", headers=GZIP)
    assert calls == ["/assets/app.js", "/assets/big.js", "/assets/app.js"]
    with TestClient(StaticGzipCache(static_app(calls := []), max_bytes=0)) as client:
        client.get("/assets/app.js", headers=GZIP)
        client.get("/assets/app.js", headers=GZIP)
    assert len(calls) == 2  # 0 MB: off


def test_the_page_preloads_the_bundle_and_runs_it_once_through_the_loader() -> None:
    page = index_string("/")
    head = page[: page.index("</head>")]
    url = re.search(r'link\.href = "([^"]+)"', head)
    assert url and url.group(1).startswith("/assets/vendor/plotly-energydash.min.js?m=")
    assert '["/map"].indexOf(location.pathname) < 0' in head  # no chart there at first
    loader = page[page.index("{%renderer%}") :]
    assert f'const url = "{url.group(1)}";' in loader
    assert 'const chartless = ["/map"];' in loader and "window.Plotly = pending" in loader
    assert "package_data/plotly.min.js" not in page  # Dash's full bundle is never named
    assert page.index("{%config%}") < page.index("{%scripts%}") < page.index("window.Plotly")
    prefixed = index_string("/app/")
    assert prefixed.count('"/app/assets/vendor/') == 2  # the preload and the loader
    assert prefixed.count('["/app/map"]') == 2


def test_the_bundle_holds_every_trace_type_the_pages_draw() -> None:
    bundle = (ASSETS / PLOTLY_BUNDLE).read_text(encoding="utf-8")
    registered = set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', bundle))
    assert registered == set(PLOTLY_TRACES)
    dashboard = Path(ASSETS).parent
    drawn: set[str] = set()
    for source in dashboard.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        drawn |= set(
            re.findall(
                r'"type":\s*"(scatter\w*|bar\w*|heatmap\w*|sankey|pie|'
                r"histogram\w*|box|violin|indicator|choropleth\w*|"
                r'scattergl|scattermap\w*|treemap|sunburst|table|funnel\w*)"',
                text,
            )
        )
        drawn |= set(re.findall(r"\bgo\.(\w+)\(", text))
    assert drawn and drawn <= registered, f"not in the bundle: {sorted(drawn - registered)}"


def test_the_dashboard_serves_the_bundle_gzip_and_not_as_a_page_script(
    settings: Settings,
) -> None:
    app = create_dash_app(settings)
    with TestClient(app.server) as client:
        answer = client.get(f"/assets/{PLOTLY_BUNDLE}", headers=GZIP)
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert int(answer.headers["content-length"]) < 600_000  # the full plotly: 1.47 MB
    scripts = app._generate_scripts_html()
    assert "plotly-energydash" not in scripts and "plotly_early" not in scripts
