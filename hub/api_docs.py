"""The API's own pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with their
scripts, styles and icon served by the hub from ``/docs/assets/``.

FastAPI's defaults fetch them from a CDN, and a shop's back office may have no internet:
the pages were blank there.  The files come from the ``fastapi-offline`` package (a
current Swagger UI 5, which reads the OpenAPI 3.1 that FastAPI writes, and ReDoc);
nothing on either page leaves the hub.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"

#: Swagger UI would otherwise ask validator.swagger.io about any document it loads
#: from a host that is not localhost: a store's LAN address, say.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    folder = files("fastapi_offline").joinpath("static")
    app.mount(ASSETS, StaticFiles(directory=str(folder)), name="docs-assets")

    def under(request: Request, path: str) -> str:
        return request.scope.get("root_path", "").rstrip("/") + path

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=under(request, app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=under(request, f"{ASSETS}/swagger-ui-bundle.js"),
            swagger_css_url=under(request, f"{ASSETS}/swagger-ui.css"),
            swagger_favicon_url=under(request, f"{ASSETS}/favicon.png"),
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=under(request, app.openapi_url or "/openapi.json"),
            title=f"{app.title} - ReDoc",
            redoc_js_url=under(request, f"{ASSETS}/redoc.standalone.js"),
            redoc_favicon_url=under(request, f"{ASSETS}/favicon.png"),
            with_google_fonts=False,
        )
