"""One page request: who is signed in (asked of the API with their session), the calls
it makes to the API as them, its form with the CSRF check, and what it answers.

Every refusal a page can meet is an exception here, turned into a page in words by
`services.web.main`'s handlers: no page can show or do more than the API lets the
person do, because every read and write is the API's answer to their session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import csrf
from services.web.deps import WebDep, WebRuntime
from services.web.schemas import SignedInPerson
from services.web.wording import detail_of

SESSION_COOKIE = "cb_session"
TENANTS_SECONDS = 60.0
IDENTITY_SECONDS = 1.0
IDENTITIES_KEPT = 10_000
NOTICES = {
    "signed-out": "You are signed out.",
    "signed-out-everywhere": "You are signed out on every device.",
    "password-set": "Your password is set. Sign in with it.",
    "reset-sent": "If this address has an account, a link to choose a new password is on its way.",
    "saved": "Saved.",
    "invited": "The invitation is on its way.",
    "registered": "Registered.",
    "waitlisted": "The training is full: you are on its waiting list.",
    "request-sent": "Your meeting request is sent.",
    "answered": "Your answer is recorded.",
    "created": "Created.",
    "published": "The schedule is published; every participant can see their agenda.",
    "checked-in": "Checked in.",
    "moved": "The event moved to its next stage.",
    "thanks": "Thank you for your feedback.",
}


class SignInNeeded(Exception):
    """No session, or one the API no longer accepts (signed out, expired, forged)."""

    def __init__(self, ended: bool) -> None:
        super().__init__("sign in")
        self.ended = ended


class Refused(Exception):
    """A page that cannot be shown or an action that was not done, said in words."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class FormRefused(Refused):
    """A POST whose CSRF token is missing or wrong: nothing was done."""


@dataclass(frozen=True)
class Me:
    person_id: str
    tenant: str
    name: str
    email: str
    roles: frozenset[str]
    clusters: tuple[str, ...]
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "agency-admin" in self.roles

    @property
    def organises(self) -> bool:
        return self.is_admin or "organiser" in self.roles

    @property
    def manages_clusters(self) -> bool:
        return self.is_admin or "cluster-manager" in self.roles

    def speaks_for(self, cluster: Mapping[str, Any]) -> bool:
        """May change this cluster: the API decides; the page only avoids offering more."""
        if self.is_admin:
            return str(cluster.get("tenant")) == self.tenant
        return str(cluster.get("id")) in self.clusters


class Form:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        for k, v in self.pairs:
            if k == name:
                return v
        return default

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def values(self) -> dict[str, str]:
        """What the person typed, to show the form again as they left it."""
        out: dict[str, str] = {}
        for k, v in self.pairs:
            if k != csrf.FIELD:
                out.setdefault(k, v)
        return out


@dataclass
class Page:
    request: Request
    rt: WebRuntime
    session_id: str | None
    me: Me | None
    ended: bool = False
    pre_anchor: str | None = None
    new_pre_anchor: bool = False
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    # ---- the API, as this person

    def headers(self) -> dict[str, str]:
        out = {"accept": "application/json"}
        if self.session_id and self.me is not None:
            out["authorization"] = f"Session {self.session_id}"
        return out

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            r = await self.rt.state.api.request(
                method,
                path,
                json=json,
                params=params,  # type: ignore[arg-type]
                headers={**self.headers(), **(headers or {})},
            )
        except httpx.HTTPError as exc:
            raise Refused(
                503, "The platform is unavailable", "It did not answer; try again in a moment."
            ) from exc
        if r.status_code == 401 and self.me is not None:
            if self.session_id:
                self.rt.state.identities.pop(self.session_id, None)
            raise SignInNeeded(ended=True)
        return r

    async def tenants(self) -> list[dict[str, Any]]:
        cached = self.rt.state.tenants
        if cached is not None and time.monotonic() - cached[0] < TENANTS_SECONDS:
            return cached[1]
        r = await self.call("GET", "/v1/tenants")
        if r.status_code != 200:
            return []
        found = list(r.json())
        self.rt.state.tenants = (time.monotonic(), found)
        return found

    async def tenant_names(self) -> dict[str, str]:
        """Tenant code -> the agency's name, for "organised by" lines: a person reads
        "European Union", not "eu"."""
        return {str(t["code"]): str(t["name"]) for t in await self.tenants()}

    async def my_zone(self) -> str:
        """The signed-in person's zone: their tenant's (times are also shown in the
        event's own)."""
        assert self.me is not None
        mine = next((t for t in await self.tenants() if t["code"] == self.me.tenant), None)
        return str(mine["timezone"]) if mine else "UTC"

    async def read(
        self, path: str, params: Mapping[str, Any] | list[tuple[str, str]] | None = None
    ) -> Any:
        """The JSON of a GET, or the page that says why it cannot be shown."""
        r = await self.call("GET", path, params=params)
        if r.status_code >= 400:
            raise refusal(r)
        return r.json()

    # ---- forms

    @property
    def csrf_token(self) -> str:
        anchor = self.session_id if self.me is not None else self.pre_anchor
        return csrf.token_for(self.rt.state.csrf_key, anchor or "")

    async def form(self) -> Form:
        """The posted form, once its CSRF token checks out."""
        kind = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise Refused(415, "Not a form", "This address only takes forms sent from its page.")
        raw = (await self.request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=2000)
        got = next((v for k, v in pairs if k == csrf.FIELD), None)
        anchor = self.session_id if self.me is not None else self.pre_anchor
        if not csrf.is_valid(self.rt.state.csrf_key, anchor, got):
            raise FormRefused(
                403,
                "This form was not accepted",
                "Its security token is missing or does not match your browser's session "
                "(the page may be old, or the form was sent from another site). Nothing "
                "was changed. Go back, reload the page and try again.",
            )
        return Form(pairs)

    # ---- answers

    def context(self, **extra: Any) -> dict[str, Any]:
        notice = NOTICES.get(self.request.query_params.get("notice", ""))
        return {
            "me": self.me,
            "csrf_token": self.csrf_token,
            "csrf_field": csrf.FIELD,
            "path": self.request.url.path,
            "notice": notice,
            **extra,
        }

    def render(self, template: str, status: int = 200, **extra: Any) -> HTMLResponse:
        html = self.rt.state.templates.get_template(template).render(self.context(**extra))
        response = HTMLResponse(html, status_code=status)
        self.finish(response)
        return response

    def redirect(self, url: str, **query: str) -> RedirectResponse:
        target = url + ("?" + urlencode(query) if query else "")
        response = RedirectResponse(target, status_code=303)
        self.finish(response)
        return response

    def set_session(self, session_id: str, max_age: int) -> None:
        self.cookies.append((SESSION_COOKIE, session_id, max_age))

    def end_session(self) -> None:
        if self.session_id:
            self.rt.state.identities.pop(self.session_id, None)
        self.cookies.append((SESSION_COOKIE, "", 0))

    def finish(self, response: Response) -> Response:
        secure = self.rt.state.secure_cookies
        if self.ended:
            self.end_session()
        if self.new_pre_anchor and self.pre_anchor:
            response.set_cookie(
                csrf.PRE_SESSION_COOKIE,
                self.pre_anchor,
                httponly=True,
                samesite="lax",
                secure=secure,
                path="/",
            )
        for name, value, max_age in self.cookies:
            if max_age == 0:
                response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
            else:
                response.set_cookie(
                    name,
                    value,
                    max_age=max_age,
                    httponly=True,
                    samesite="lax",
                    secure=secure,
                    path="/",
                )
        response.headers["cache-control"] = "no-store"
        return response


def refusal(r: httpx.Response) -> Refused:
    detail = detail_of(r)
    if r.status_code == 404:
        return Refused(404, "Not found", detail)
    if r.status_code == 403:
        return Refused(403, "Not allowed", detail)
    if r.status_code >= 500:
        return Refused(503, "The platform could not answer", detail)
    return Refused(r.status_code, "Refused", detail)


async def page(request: Request, rt: WebDep) -> Page:
    """Who is calling: the session cookie, checked by the API (GET /v1/me)."""
    session_id = request.cookies.get(SESSION_COOKIE) or None
    pre = request.cookies.get(csrf.PRE_SESSION_COOKIE) or None
    p = Page(request, rt, session_id, None, pre_anchor=pre)
    request.state.page = p  # the error pages keep the person's navigation
    if pre is None:
        p.pre_anchor, p.new_pre_anchor = csrf.new_anchor(), True
    if session_id is None:
        return p
    if len(session_id) > 200 or not session_id.isascii() or not session_id.isprintable():
        p.ended, p.session_id = True, None
        return p
    known = rt.state.identities.get(session_id)
    if known is not None and time.monotonic() - known[0] < IDENTITY_SECONDS:
        p.me = known[1]
        return p
    try:
        r = await rt.state.api.get("/v1/me", headers={"authorization": f"Session {session_id}"})
    except httpx.HTTPError as exc:
        raise Refused(
            503, "The platform is unavailable", "It did not answer; try again in a moment."
        ) from exc
    if r.status_code != 200:
        # Signed out, expired, revoked or made up: the browser forgets it.
        p.ended, p.session_id = True, None
        return p
    who = SignedInPerson.model_validate(r.json())
    if who.kind != "person":  # a session id is a person's; anything else is not one
        p.ended, p.session_id = True, None
        return p
    p.me = Me(
        person_id=str(who.person_id),
        tenant=who.tenant,
        name=who.name,
        email=who.email or "",
        roles=frozenset(who.roles),
        clusters=tuple(str(c) for c in who.clusters),
        scopes=frozenset(who.scopes),
    )
    kept = rt.state.identities
    if len(kept) >= IDENTITIES_KEPT:
        kept.clear()  # a burst of sessions: start over rather than grow
    kept[session_id] = (time.monotonic(), p.me)
    return p


async def signed_in(p: Annotated[Page, Depends(page)]) -> Page:
    if p.me is None:
        raise SignInNeeded(ended=p.ended)
    return p


PageDep = Annotated[Page, Depends(page)]
SignedInDep = Annotated[Page, Depends(signed_in)]


def parse_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
