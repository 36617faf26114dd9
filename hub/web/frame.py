"""What every page shares: the templates, the language, the signed-in manager, the
CSRF check on posts, and refusals shown as a page rather than the API's JSON."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.web.catalogue import LANGUAGE_COOKIE, LANGUAGES, Catalogue, chosen_language
from hub.web.sessions import SESSION_COOKIE, WebSession, WebSessions

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_URL = "/manage/static"
HOME = "/manage/labels"
SIGN_IN = "/manage/login"
#: The language cookie is kept for a year: a shop's PC keeps its manager's choice.
LANGUAGE_COOKIE_AGE_S = 365 * 24 * 3600

router = APIRouter(prefix="/manage", include_in_schema=False)


@dataclass(frozen=True)
class WebState:
    templates: Environment
    catalogue: Catalogue
    sessions: WebSessions

    @classmethod
    def start(cls) -> WebState:
        templates = Environment(
            loader=FileSystemLoader(PACKAGE_DIR / "templates"), autoescape=select_autoescape(["html"])
        )
        return cls(templates=templates, catalogue=Catalogue.load(), sessions=WebSessions())


class WebRefusal(Exception):
    """A page's refusal: its status and a message (a catalogue msgid) shown on a page,
    with the ``values`` its placeholders name."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, *, values: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.values = values or {}


class SignInRequired(Exception):
    pass


def web_state(request: Request) -> WebState:
    return request.app.state.web


def language(request: Request) -> str:
    return chosen_language(request.cookies.get(LANGUAGE_COOKIE))


def local_time(moment: dt.datetime) -> str:
    """A moment as the shop's clock shows it, day and time: 04.12 10:45."""
    return moment.astimezone().strftime("%d.%m %H:%M")


def largest_unit(seconds: float | None) -> tuple[int, str] | None:
    """A wait in its largest whole unit: (number, msgid of the unit: d, h, min or s)."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return int(seconds // size), unit
    return int(seconds), "s"


def quantity(amount: Decimal) -> str:
    """2, 0,5, 1,25: a quantity as the shop writes it, without trailing zeros and with
    the decimal comma its prices have (the page writes money as "96,99 ₽" in either language)."""
    return f"{amount.normalize():f}".replace(".", ",")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    state = web_state(request)
    lang = language(request)
    page = state.templates.get_template(template).render(
        _=state.catalogue.gettext(lang),
        lang=lang,
        languages=LANGUAGES,
        static=STATIC_URL,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def session_of(request: Request) -> WebSession | None:
    """The signed-in manager whose cookie came with ``request``, if any."""
    return web_state(request).sessions.find(request.cookies.get(SESSION_COOKIE))


async def _signed_in(request: Request) -> WebSession:
    session = session_of(request)
    if session is None:
        raise SignInRequired()
    return session


SignedIn = Annotated[WebSession, Depends(_signed_in)]


async def _posted_by_signed_in(session: SignedIn, csrf: Annotated[str, Form()] = "") -> WebSession:
    """A form post from the signed-in manager's own page: its CSRF token matches."""
    if csrf != session.csrf:
        log.info("web post by %s refused: no or wrong CSRF token", session.client_id)
        raise WebRefusal(403, "This form has expired. Reload the page and try again.")
    return session


PostedBySignedIn = Annotated[WebSession, Depends(_posted_by_signed_in)]


def install_web_refusals(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request"):  # htmx follows no redirect: it is told where to go
            return Response(status_code=401, headers={"HX-Redirect": SIGN_IN})
        return RedirectResponse(SIGN_IN, status_code=303)

    @app.exception_handler(WebRefusal)
    async def refused(request: Request, exc: WebRefusal) -> Response:
        # The header as on every page (sections, sign out) for a manager who is signed in.
        answer = render(
            request, "refused.html", status=exc.status, message=exc.message, values=exc.values,
            session=session_of(request),
        )  # fmt: skip
        answer.headers.update(exc.headers)
        return answer

    # A mistyped address or a part of one the page cannot read, under /manage, is told
    # on a page in the manager's language; the API keeps its JSON envelope.
    api_turned_away = app.exception_handlers[StarletteHTTPException]
    api_invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(StarletteHTTPException)
    async def turned_away(request: Request, exc: StarletteHTTPException) -> Response:
        if not _on_the_page(request) or exc.status_code not in PAGE_REFUSALS:
            return await api_turned_away(request, exc)
        log.info("web %s %s: %d", request.method, request.url.path[:200], exc.status_code)
        return await refused(request, WebRefusal(exc.status_code, PAGE_REFUSALS[exc.status_code], exc.headers))

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> Response:
        if not _on_the_page(request):
            return await api_invalid(request, exc)
        log.info("web %s %s refused: %s", request.method, request.url.path[:200], exc.errors()[:3])
        return await refused(request, WebRefusal(422, "This address has a part the page cannot read."))


#: What the page says for the refusals that come before any page's own code.
PAGE_REFUSALS = {
    404: "There is no such page here.",
    405: "This page cannot be used that way.",
}


def _on_the_page(request: Request) -> bool:
    return request.url.path == "/manage" or request.url.path.startswith("/manage/")


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def start_page() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/language/{lang}")
async def switch_language(lang: str, request: Request, back: str = HOME) -> RedirectResponse:
    """The language link: remembers the choice and goes back to the page it was on."""
    if not back.startswith("/manage"):  # never a redirect off this hub
        back = HOME
    answer = RedirectResponse(back, status_code=303)
    answer.set_cookie(
        LANGUAGE_COOKIE, chosen_language(lang), max_age=LANGUAGE_COOKIE_AGE_S, samesite="strict", httponly=True
    )
    return answer
