"""``/`` and ``/static/*``: the search page, served by the API process itself.

Only the files shipped in ``same_same/web/static`` are served, looked up by exact
name, so no request path ever reaches the filesystem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response

from ...errors import NotFoundError
from ...web import STATIC_DIR

router = APIRouter(include_in_schema=False)

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page only ever talks to its own origin; blob: and data: are the thumbnails it
# fetches itself when an API key is set.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class StaticFileNotFoundError(NotFoundError):
    code = "not_found"


def _serve(request: Request, path: Path) -> Response:
    media_type = _MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise StaticFileNotFoundError(f"no static file {path.name!r}")
    data = path.read_bytes()
    etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
    # no-cache: revalidate every time, so an upgraded server never runs yesterday's script.
    headers = {"ETag": etag, "Cache-Control": "no-cache", **_PAGE_HEADERS}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=media_type, headers=headers)


@router.get("/")
def get_page(request: Request) -> Response:
    return _serve(request, STATIC_DIR / "index.html")


@router.get("/static/{name}")
def get_static(name: str, request: Request) -> Response:
    shipped = {path.name for path in STATIC_DIR.iterdir()}
    if name not in shipped:
        raise StaticFileNotFoundError(f"no static file {name!r}", hint="the search page is at /")
    return _serve(request, STATIC_DIR / name)
