"""``GET /metrics``: Prometheus's text format (open like ``/health``, unless ``--metrics-auth``).

Not part of the JSON API, so not in its schema: the page is for Prometheus, not clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..metrics import CONTENT_TYPE_LATEST, ServerMetrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def get_metrics(request: Request) -> Response:
    """A thread of the pool answers: the scrape asks the store for its namespaces."""
    metrics: ServerMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
