"""Plain HTTP routes beside gradio's (no queue, cacheable): product photos resized for where they are shown,
the product page and the comparison as HTML fragments. Only products in the index are served; nothing about
the shopper is stored (the shortlist lives in their browser)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..session import summarize
from .cards import compare_html, product_page_html
from .loader import EngineLoader
from .photos import SIZES, catalog_photo

log = logging.getLogger(__name__)
PREFIX = "/shop"


def not_ready() -> Response:
    return Response("the assistant is getting ready", status_code=503, headers={"Retry-After": "2"})


def shop_routes(loader: EngineLoader) -> list[BaseRoute]:
    """Routes for the app (passed to gradio's FastAPI app, ahead of its own)."""

    def photo(request: Request) -> Response:
        size, pid = request.path_params["size"], request.path_params["pid"]
        engine = loader.engine
        if engine is None:
            return not_ready()
        meta = engine.index.metadata().get(pid)
        if size not in SIZES or meta is None:
            return Response("no such photo", status_code=404)
        location = str(meta.get("image") or "")
        if location.startswith(("http://", "https://")):
            return RedirectResponse(location)
        try:
            data, etag = catalog_photo(location, size, engine.settings)
        except OSError:
            return Response("no such photo", status_code=404)
        headers = {"Cache-Control": f"public, max-age={engine.settings.photo_max_age_seconds}", "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="image/jpeg", headers=headers)

    def product(request: Request) -> Response:
        engine = loader.engine
        if engine is None:
            return not_ready()
        details = engine.details(request.path_params["pid"])
        if details is None:
            return HTMLResponse("<p>That product is no longer in the catalog.</p>", status_code=404)
        return HTMLResponse(product_page_html(card_fields(details)), headers={"Cache-Control": "private, max-age=300"})

    def compare(request: Request) -> Response:
        engine = loader.engine
        if engine is None:
            return not_ready()
        ids = [i for i in request.query_params.get("ids", "").split(",") if i][:4]
        found = [d for d in (engine.details(i) for i in dict.fromkeys(ids)) if d is not None]
        return HTMLResponse(compare_html([card_fields(d) for d in found]), headers={"Cache-Control": "private, max-age=300"})

    return [Route(PREFIX + "/photo/{size}/{pid}.jpg", photo), Route(PREFIX + "/product/{pid}", product),
            Route(PREFIX + "/compare", compare)]


def card_fields(details: dict) -> dict:
    """Index metadata (prices as -1 when unknown) as a card dict, with the catalog's extra fields."""
    return {**details, **summarize(details["id"], details)}
