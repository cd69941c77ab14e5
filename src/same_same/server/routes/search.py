"""``/api/v1/search``: by text (both request forms) and by image (upload, base64 or id)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from ...errors import InvalidInputError
from ...imaging.query import QueryImageDecoder
from ...ranking import RankingOptions, parse_ranking
from ...search import DEFAULT_LIMIT, SearchResult, SearchService
from ...storage import Filters
from ..dependencies import Runner, Searcher
from ..errors import APIError, error_responses
from ..json_body import StrictJSONRoute, json_response, parse_json_body, validate_body
from ..schemas import ImageSearchRequest, SearchRequest, pick_limit
from ..search_runner import SearchRunner

if TYPE_CHECKING:
    from PIL import Image

router = APIRouter(prefix="/api/v1/search", tags=["search"], route_class=StrictJSONRoute)

_IMAGE_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The image file."},
        "namespace": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        "filters": {"type": "string", "description": "Metadata filters as a JSON object."},
        "min_score": {"type": "number", "minimum": -1, "maximum": 1},
        "min_relevance": {"type": "number", "minimum": 0, "maximum": 1},
        "sort": {"type": "string", "description": 'A field to order by: "taken_at", "-taken_at".'},
    },
}


@router.post("", responses=error_responses(400, 401, 404, 409, 413, 501, 503))
def search_text(body: SearchRequest, searcher: Searcher) -> Response:
    """Search by text. Without a namespace: every namespace of the query's embedding space."""
    result = searcher.search_text(
        body.query_text(),
        namespace=body.namespace,
        limit=pick_limit(body),
        filters=body.filters,
        exact=body.exact,
        ranking=body.ranking(body.mode, body.options),
    )
    return json_response(result.to_dict())


def decode_base64_image(text: str) -> bytes:
    """Bytes from base64, with or without a ``data:image/...;base64,`` prefix."""
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("image is not valid base64") from None
    if not data:
        raise InvalidInputError("image is empty")
    return data


def query_image_decoder(request: Request) -> QueryImageDecoder:
    """The app's one decoder of query images (``create_app`` makes it from its settings)."""
    decoder: QueryImageDecoder = request.app.state.query_image_decoder
    return decoder


async def _search_image_json(
    request: Request, searcher: SearchService, runner: SearchRunner, body: ImageSearchRequest
) -> SearchResult:
    limit = pick_limit(body)
    if (body.image is None) == (body.id is None):
        raise InvalidInputError(
            'give exactly one of "image" (base64) or "id" (a stored record)',
            hint="or upload the image as multipart/form-data in a field named 'file'",
        )
    if body.id is not None:
        return await runner.run(
            searcher.search_similar,
            body.id,
            namespace=body.namespace,
            limit=limit,
            filters=body.filters,
            ranking=body.ranking(),
        )
    assert body.image is not None
    decoder = query_image_decoder(request)
    async with decoder.turn():
        picture = await run_in_threadpool(decoder.decode, decode_base64_image(body.image))
    return await _search_picture(
        searcher, decoder, picture, body.namespace, limit, body.filters, body.ranking()
    )


async def _search_picture(
    searcher: SearchService,
    decoder: QueryImageDecoder,
    picture: Image.Image,
    namespace: str | None,
    limit: int,
    filters: Filters | None,
    ranking: RankingOptions,
) -> SearchResult:
    try:
        return await run_in_threadpool(
            searcher.search_image,
            picture,
            namespace=namespace,
            limit=limit,
            filters=filters,
            ranking=ranking,
        )
    finally:
        await run_in_threadpool(decoder.discard, picture)


def _form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"form field {name!r} must be text, not a file")
    return value


def _form_limit(form: FormData) -> int:
    text = _form_text(form, "limit") or _form_text(form, "top_k")
    if text is None:
        return DEFAULT_LIMIT
    if not text.strip().isdigit():
        raise InvalidInputError(f"limit must be an integer, got {text!r}")
    return int(text)


def _form_number(form: FormData, name: str) -> float | None:
    text = _form_text(form, name)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number, got {text!r}") from None


def _form_ranking(form: FormData) -> RankingOptions:
    return parse_ranking(
        min_score=_form_number(form, "min_score"),
        min_relevance=_form_number(form, "min_relevance"),
        sort=_form_text(form, "sort"),
    )


def _form_filters(form: FormData) -> Filters | None:
    text = _form_text(form, "filters")
    if text is None:
        return None
    filters = parse_json_body(text.encode("utf-8"))
    if not isinstance(filters, dict):
        raise InvalidInputError("form field 'filters' must be a JSON object")
    return filters


@router.post(
    "/image",
    responses=error_responses(400, 401, 404, 409, 413, 415, 501, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _IMAGE_FORM_SCHEMA},
                "application/json": {"schema": ImageSearchRequest.model_json_schema()},
            },
        }
    },
)
async def search_image(request: Request, searcher: Searcher, runner: Runner) -> Response:
    """Search by an image: a multipart upload (field ``file``), or JSON with base64 ``image``
    or a stored record's ``id`` (more like this; the record itself is left out)."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInputError("the multipart upload needs the image in a field 'file'")
            namespace = _form_text(form, "namespace")
            limit = _form_limit(form)
            filters = _form_filters(form)
            ranking = _form_ranking(form)
            decoder = query_image_decoder(request)
            # The upload waits for its turn spooled to disk, not in memory.
            async with decoder.turn():
                picture = await run_in_threadpool(decoder.decode, await upload.read())
        result = await _search_picture(
            searcher, decoder, picture, namespace, limit, filters, ranking
        )
    elif "json" in content_type:
        body = validate_body(ImageSearchRequest, await request.json())
        result = await _search_image_json(request, searcher, runner, body)
    else:
        raise APIError(
            415,
            "unsupported_media_type",
            f"cannot search by an image sent as {content_type or 'no content type'}",
            hint="send multipart/form-data with a field 'file', or JSON with 'image' or 'id'",
        )
    return json_response(result.to_dict())
