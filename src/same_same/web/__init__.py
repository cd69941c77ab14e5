"""The search page: static HTML, CSS and JavaScript served by the API server."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""index.html, app.js, style.css: plain files, no build step, no CDN."""
