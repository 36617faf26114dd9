"""Signing in to the managers' page: managers and technicians with their client id and
secret (the same check as the REST API's bearer token); tills, kiosks and the cloud are
refused.  Wrong secrets are counted per client id and per address (``FailedSignIns``)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.deps import Config, client_with_secret
from hub.permissions import STAFF_ROLES
from hub.web.frame import HOME, SIGN_IN, PostedBySignedIn, render, web_state
from hub.web.sessions import SESSION_COOKIE, SESSION_TTL_S

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)


def _sign_in_page(request: Request, status: int = 200, problem: str | None = None, client_id: str = "") -> HTMLResponse:
    token = web_state(request).sessions.sign_in_token()
    return render(request, "sign_in.html", status=status, token=token, problem=problem, client_id=client_id)


@router.get("/login", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request)


@router.post("/login", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    config: Config,
    client_id: Annotated[str, Form(max_length=64)] = "",
    secret: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    sessions = web_state(request).sessions
    if not sessions.sign_in_token_valid(csrf):
        log.info("web sign-in as %r refused: no or wrong CSRF token", client_id)
        return _sign_in_page(request, 403, "This form has expired. Reload the page and try again.", client_id)
    address = request.client.host if request.client else "unknown"
    keys = (f"client:{client_id}", f"address:{address}")
    wait = sessions.failures.blocked_for(*keys)
    if wait > 0:
        log.warning("web sign-in as %r from %s refused: too many wrong secrets", client_id, address)
        answer = _sign_in_page(request, 429, "Too many wrong secrets. Try again in a few minutes.", client_id)
        answer.headers["Retry-After"] = str(int(wait) + 1)
        return answer
    client = client_with_secret(config, client_id, secret)
    if client is None:
        sessions.failures.failed(*keys)
        log.info("web sign-in as %r from %s refused: unknown client or wrong secret", client_id, address)
        return _sign_in_page(request, 401, "Unknown client id or wrong secret.", client_id)
    if client.role not in STAFF_ROLES:
        log.info("web sign-in as %s refused: a %s may not use the managers' page", client.id, client.role)
        return _sign_in_page(request, 403, "This page is for managers and technicians only.", client_id)
    session = sessions.open(client.id, client.role)
    log.info("web sign-in: %s (%s) from %s", client.id, client.role, address)
    answer = RedirectResponse(HOME, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE, session.id, max_age=SESSION_TTL_S, httponly=True, samesite="strict", path="/manage"
    )
    return answer


@router.post("/logout")
async def sign_out(request: Request, session: PostedBySignedIn) -> RedirectResponse:
    web_state(request).sessions.close(session.id)
    answer = RedirectResponse(SIGN_IN, status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/manage", httponly=True, samesite="strict")
    return answer
