"""What makes a first load fast: a plotly.js of our own traces, started early; static files
gzip-compressed once.

Profile of a cold load of /pdus (Chromium, cache off, quiet machine): of ~1.65 s to data on
screen, ~0.75 s was the evaluation of Dash's full plotly.js (4.8 MB, every trace type, maps
included) and ~0.3 s its download, and Dash fetched it only after the layout, the page
callback and the graph chunk, so they came last, in series. Each cold request also re-read,
hashed and gzip-compressed that bundle (~0.15 s of a shared core). Therefore:

- the dashboard loads ``assets/vendor/plotly-energydash.min.js``: plotly.js core with only
  ``PLOTLY_TRACES`` (1.3 MB, 0.46 MB gzip), built by ``scripts/build_plotly_bundle.sh``;
- ``index_string`` preloads it in ``<head>`` and runs it right after the Dash renderer has
  sent its first requests (``assets/plotly_early.js``, inlined), so the download overlaps the
  scripts and the evaluation overlaps the layout round trips; dcc's own loader then finds
  ``window.Plotly`` and never fetches the full bundle. On ``CHARTLESS_PAGES`` the bundle
  loads only when the first chart asks for it;
- ``StaticGzipCache`` keeps the gzip body of each static file (Dash component suites,
  ``/assets/``) after its first answer and serves it from memory, within a byte budget.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ASSETS = Path(__file__).parent / "assets"
# Every trace type a dashboard figure may use; the bundle holds these and no others.
PLOTLY_TRACES = ("scatter", "bar", "heatmap", "sankey")
PLOTLY_BUNDLE = "vendor/plotly-energydash.min.js"  # under assets/
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
# Pages whose first view draws no chart (the Map's facility chart waits for a click): the
# bundle loads there only when a chart first asks for it, not with the page.
CHARTLESS_PAGES = ("map",)
# Dash must not add these as page scripts: the loader runs inline, the bundle through it.
ASSETS_IGNORE = r"^plotly_early\.js$|^plotly-energydash\.min\.js$"

_INDEX = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <script>HEAD_PRELOAD</script>
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
            <script>EARLY_PLOTLY</script>
        </footer>
    </body>
</html>"""


def plotly_url(requests_pathname_prefix: str) -> str:
    """The bundle's URL; its file time in the query makes a rebuilt bundle a new URL."""
    mtime = int((ASSETS / PLOTLY_BUNDLE).stat().st_mtime)
    return f"{requests_pathname_prefix}assets/{PLOTLY_BUNDLE}?m={mtime}"


def index_string(requests_pathname_prefix: str) -> str:
    """Dash's page template: the bundle preloaded in ``<head>``, its loader after the renderer."""
    url = json.dumps(plotly_url(requests_pathname_prefix))
    chartless = json.dumps([requests_pathname_prefix + page for page in CHARTLESS_PAGES])
    script = (ASSETS / "plotly_early.js").read_text(encoding="utf-8")
    script = script.replace('const url = "PLOTLY_URL";', f"const url = {url};")
    script = script.replace("const chartless = [];", f"const chartless = {chartless};")
    head = (
        f"if ({chartless}.indexOf(location.pathname) < 0) {{"
        "const link = document.createElement('link');"
        f"link.rel = 'preload'; link.as = 'script'; link.href = {url};"
        "document.head.appendChild(link); }"
    )
    return _INDEX.replace("HEAD_PRELOAD", head).replace(
        "EARLY_PLOTLY", script.replace("</script", "<\\/script")
    )


class StaticGzipCache:
    """ASGI middleware: a GET of a static file that accepts gzip is answered from memory.

    The first answer of a path (and query: the fingerprint) is taken uncompressed from the
    app, compressed once (level 9: paid once, not per request) and kept while the kept bodies
    stay within ``max_bytes`` (least recently used go first). Only status 200 answers without
    a validator in the request are kept; everything else goes through unchanged, so the
    app's ETag/304 answers and the auth gate keep their behaviour.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[list[tuple[bytes, bytes]], bytes]] = OrderedDict()
        self._kept_bytes = 0

    def _cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or self.max_bytes <= 0:
            return False
        if not str(scope["path"]).startswith(STATIC_PREFIXES):
            return False
        headers = Headers(scope=scope)
        return "gzip" in headers.get("accept-encoding", "") and not (
            "if-none-match" in headers or "range" in headers
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                self._kept.move_to_end(key)
        if hit is None:
            hit = await self._fetch(scope, receive, send)
            if hit is None:
                return  # the app answered the client itself
        headers, body = hit
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fetch(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """Run the app uncompressed; keep and return a 200 answer, else pass it on."""
        plain_scope = dict(scope)
        plain_scope["headers"] = [
            (k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"
        ]
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        await self.app(plain_scope, receive, collect)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        bodies = [m for m in messages if m["type"] == "http.response.body"]
        if start is None or start["status"] != 200 or len(bodies) != len(messages) - 1:
            for message in messages:  # not a plain 200 answer: the client gets it as it was
                await send(message)
            return None
        plain = b"".join(m.get("body", b"") for m in bodies)
        import anyio.to_thread

        body = await anyio.to_thread.run_sync(lambda: gzip.compress(plain, 9, mtime=0))
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"content-encoding", b"vary")
        ]
        headers += [
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(body)).encode()),
            (b"vary", b"Accept-Encoding"),
        ]
        self._keep(_key(scope), headers, body)
        return headers, body

    def _keep(self, key: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = (headers, body)
            self._kept_bytes += len(body)
            while self._kept_bytes > self.max_bytes:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._kept_bytes -= len(dropped)

    @property
    def kept_bytes(self) -> int:
        """Compressed bytes held now (within ``max_bytes``)."""
        return self._kept_bytes


def _key(scope: Scope) -> str:
    return f"{scope['path']}?{scope.get('query_string', b'').decode('latin-1')}"
