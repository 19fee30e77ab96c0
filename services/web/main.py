"""Web app service: server-rendered pages for people, calling the public API through the
gateway with the signed-in person's session."""

from __future__ import annotations

import uuid
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlencode

import httpx
import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web import csrf, formatting
from services.web.api import routers
from services.web.deps import WebRuntime
from services.web.pages import SESSION_COOKIE, Page, Refused, SignInNeeded
from services.web.settings import WebSettings
from services.web.state import WebState
from shared.app import create_service_app
from shared.keepalive import KEEPALIVE_EXPIRY
from shared.runtime import AnyRuntime
from shared.taxonomy import ECOSYSTEMS
from shared.telemetry.propagation import add_context_headers

__all__ = ["WebSettings", "create_app"]

HERE = Path(__file__).parent


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        # Every value a person or an API answer put in a page is escaped.
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = formatting.when
    env.filters["clock"] = formatting.clock
    env.filters["ecosystem"] = formatting.ecosystem_name
    env.globals["ecosystems"] = ECOSYSTEMS
    # A fresh Idempotency-Key in each creating form: a form sent twice (a double
    # click, a reload) is carried out once.
    env.globals["form_key"] = lambda: uuid.uuid4().hex
    return env


def create_app(settings: WebSettings | None = None) -> FastAPI:
    cfg = settings or WebSettings()

    async def build_state(rt: WebRuntime) -> WebState:
        return WebState(
            api=httpx.AsyncClient(
                base_url=cfg.gateway_url.rstrip("/"),
                timeout=httpx.Timeout(cfg.api_timeout, connect=2.0),
                # The gateway is a uvicorn service too (see shared.keepalive): at httpx's
                # default of 5 s a page now and then met a closing connection and said
                # "The platform is unavailable".
                limits=httpx.Limits(
                    max_connections=100,
                    max_keepalive_connections=50,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                # One client calls for every person: it must never keep a cookie.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                # The page's request id reaches the gateway's and the services' logs.
                event_hooks={"request": [add_context_headers]},
            ),
            templates=templates(),
            csrf_key=csrf.derive_key(cfg.csrf_secret, cfg.internal_token),
            secure_cookies=cfg.secure_cookies,
        )

    async def stop(rt: AnyRuntime) -> None:
        if rt.has_state:
            await rt.state.api.aclose()

    app = create_service_app(
        name="web",
        title="Clusterbridge web app",
        description="Pages for people; not part of the API.",
        settings=cfg,
        routers=list(routers),
        build_state=build_state,
        on_shutdown=[stop],
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_page_handlers(app)
    return app


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    page: Page | None = getattr(request.state, "page", None)
    if page is not None:
        return page.render("error.html", status=status, title=title, detail=detail)
    html = (
        templates()
        .get_template("error.html")
        .render(me=None, title=title, detail=detail, path=request.url.path, notice=None)
    )
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def install_page_handlers(app: FastAPI) -> None:
    async def on_sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        query = {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
        if exc.ended:
            query["why"] = "ended"
        response = RedirectResponse("/sign-in?" + urlencode(query), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def on_refused(request: Request, exc: Refused) -> Response:
        return _error_page(request, exc.status, exc.title, exc.detail)

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_page(request, 404, "Not found", "There is no page at this address.")
        if exc.status_code == 405:
            return _error_page(
                request, 405, "Not here", "This address does not take this kind of request."
            )
        return _error_page(request, exc.status_code, "Refused", str(exc.detail))

    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        # A path or query a person edited by hand (an id that is not one, a bad page).
        return _error_page(
            request, 404, "Not found", "This address is not one the site knows (check the link)."
        )

    app.add_exception_handler(SignInNeeded, on_sign_in_needed)  # type: ignore[arg-type]
    app.add_exception_handler(Refused, on_refused)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_invalid)  # type: ignore[arg-type]
