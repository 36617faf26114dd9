"""The managers' page, served by the hub beside the REST API (docs/web.md).

Server-rendered pages (Jinja2) with htmx for the live parts; every asset — htmx, the
style sheet — is served from this package, so the page works with the shop's internet
down.  ``install_web`` puts its routes and static files on the hub's app; the routes
read the hub's parts through ``hub.api.deps``, as the REST routes do.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from hub.web import day, frame, labels, labels_preview, labels_print, pickups, products, sign_in
from hub.web.frame import STATIC_DIR, STATIC_URL, WebRefusal, WebState, install_web_refusals


def install_web(app: FastAPI) -> None:
    app.state.web = WebState.start()
    install_web_refusals(app)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="web-static")
    for pages in (frame, sign_in, labels, labels_print, labels_preview, pickups, products, day):
        app.include_router(pages.router)


__all__ = ["WebRefusal", "install_web"]
