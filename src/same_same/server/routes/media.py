"""``/api/v1/vectors/{id}/thumbnail`` and ``/image``: the pictures behind image records.

Files are found through the record the store holds, never through a path taken
from the request. This router must be included before the vectors router, whose
``/{record_id:path}`` would otherwise swallow these paths (ids may contain slashes).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from ...thumbnails import (
    DEFAULT_THUMBNAIL_SIZE,
    MAX_THUMBNAIL_SIZE,
    MIN_THUMBNAIL_SIZE,
    THUMBNAIL_MEDIA_TYPE,
    THUMBNAIL_SIZES,
    ThumbnailCache,
    get_record_thumbnail,
    open_record_image,
)
from ..dependencies import Store
from ..errors import REFUSING_ROUTE, error_responses, refuse_method

router = APIRouter(prefix="/api/v1/vectors", tags=["media"])

# Private: with an API key the pictures are as protected as the rest of the API.
# Short-lived: the ETag catches a changed file once the browser revalidates.
CACHE_CONTROL = "private, max-age=300"
# An original is served as it is on disk; never let a browser run it as a document.
_ORIGINAL_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    ),
    "X-Content-Type-Options": "nosniff",
}

NamespaceQuery = Annotated[
    str | None, Query(description="Where the record is, when several namespaces hold its id.")
]
SizeQuery = Annotated[
    str,
    Query(
        description=f"Longest edge in pixels, {MIN_THUMBNAIL_SIZE}..{MAX_THUMBNAIL_SIZE}; "
        f"served at the first of {', '.join(map(str, THUMBNAIL_SIZES))} that is at least as big."
    ),
]
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified since the ETag given in If-None-Match."}
}
_THUMBNAIL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {THUMBNAIL_MEDIA_TYPE: {}}, "description": "The thumbnail."},
    **_NOT_MODIFIED,
    **error_responses(400, 401, 404, 422, 503),
}
_IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/*": {}}, "description": "The original file."},
    **_NOT_MODIFIED,
    **error_responses(400, 401, 404, 503),
}


def _is_unchanged(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, f"W/{etag}", "*") for tag in given.split(","))


def _not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})


@router.get("/{record_id:path}/thumbnail", response_class=Response, responses=_THUMBNAIL_RESPONSES)
def get_thumbnail(
    record_id: str,
    request: Request,
    store: Store,
    size: SizeQuery = str(DEFAULT_THUMBNAIL_SIZE),
    namespace: NamespaceQuery = None,
) -> Response:
    """A JPEG of an image record, upright, at most ``size`` pixels on its longest edge."""
    cache = ThumbnailCache(request.app.state.settings.data_dir)
    thumbnail = get_record_thumbnail(store, cache, record_id, size, namespace)
    if _is_unchanged(request, thumbnail.etag):
        return _not_modified(thumbnail.etag)
    # Read now rather than stream: a concurrent re-render may replace the file meanwhile.
    return Response(
        content=thumbnail.read_bytes(),
        media_type=thumbnail.media_type,
        headers={"ETag": thumbnail.etag, "Cache-Control": CACHE_CONTROL},
    )


@router.get("/{record_id:path}/image", response_class=Response, responses=_IMAGE_RESPONSES)
def get_image(
    record_id: str, request: Request, store: Store, namespace: NamespaceQuery = None
) -> Response:
    """The original file of an image record, with its content type."""
    image = open_record_image(store, record_id, namespace)
    if _is_unchanged(request, image.etag):
        return _not_modified(image.etag)
    return FileResponse(
        image.path,
        media_type=image.media_type,
        # A name that is not UTF-8 cannot go into a header as it is.
        filename=os.fsencode(image.path.name).decode("utf-8", "replace"),
        content_disposition_type="inline",
        headers={"ETag": image.etag, "Cache-Control": CACHE_CONTROL, **_ORIGINAL_HEADERS},
    )


# Pictures are read-only; without these, PUT or DELETE of ``ID/image`` would reach the
# vectors router as a record called ``ID/image``.
for _path in ("/{record_id:path}/thumbnail", "/{record_id:path}/image"):
    router.add_api_route(
        _path,
        refuse_method,
        methods=["POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
        name=REFUSING_ROUTE,
    )
