"""Pages: signing in and out, accepting an invitation, resetting a password, my account."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Response

from services.web.navigation import local_path
from services.web.pages import Page, PageDep, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

SIGN_IN_FIELDS = {"email": "e-mail address", "password": "password"}
PASSWORD_FIELDS = {"password": "new password", "password_again": "new password again"}


@router.get("/")
async def home(p: PageDep) -> Response:
    if p.me is None:
        return p.redirect("/sign-in")
    return p.render("home.html")


def _next_of(p: Page, raw: str | None) -> tuple[str, str | None]:
    """Where to go after signing in, and a sentence when the link asked for elsewhere."""
    if raw is None or raw == "":
        return "/", None
    safe = local_path(raw)
    if safe is None:
        return "/", (
            "The link you followed asked to send you to another site after signing in. "
            "You will stay on Clusterbridge."
        )
    return safe, None


@router.get("/sign-in")
async def sign_in_page(p: PageDep, next: str | None = None, why: str | None = None) -> Response:
    target, warning = _next_of(p, next)
    if p.me is not None and warning is None:
        return p.redirect(target)
    ended = why == "ended" or p.ended
    return p.render(
        "sign_in.html",
        next=target if next else "",
        warning=warning,
        ended=ended,
        values={},
        errors=Errors(),
    )


@router.post("/sign-in")
async def sign_in(p: PageDep) -> Response:
    form = await p.form()
    target, warning = _next_of(p, form.get("next") or None)
    values = {"email": form.get("email")}
    r = await p.call(
        "POST",
        "/v1/auth/sign-in",
        json={"email": form.get("email").strip(), "password": form.get("password")},
    )
    if r.status_code != 201:
        errors = explain(r, SIGN_IN_FIELDS)
        if r.status_code == 401 or r.status_code == 429:
            errors = Errors(general=errors.general + list(errors.fields.values()))
        return p.render(
            "sign_in.html",
            status=r.status_code if r.status_code in (401, 429) else 422,
            next=target if form.get("next") else "",
            warning=warning,
            ended=False,
            values=values,
            errors=errors,
        )
    signed = r.json()
    expires = datetime.fromisoformat(signed["expires_at"].replace("Z", "+00:00"))
    p.set_session(signed["session_id"], max(60, int((expires - datetime.now(UTC)).total_seconds())))
    return p.redirect(target)


@router.post("/sign-out")
async def sign_out(p: PageDep) -> Response:
    await p.form()
    if p.me is not None:
        await p.call("POST", "/v1/auth/sign-out")
    p.end_session()
    return p.redirect("/sign-in", notice="signed-out")


@router.post("/sign-out-everywhere")
async def sign_out_everywhere(p: SignedInDep) -> Response:
    await p.form()
    await p.call("POST", "/v1/auth/sign-out-everywhere")
    p.end_session()
    return p.redirect("/sign-in", notice="signed-out-everywhere")


@router.get("/account")
async def account(p: SignedInDep) -> Response:
    assert p.me is not None
    clusters = []
    for cluster_id in p.me.clusters:
        r = await p.call("GET", f"/v1/clusters/{cluster_id}")
        clusters.append(
            r.json() if r.status_code == 200 else {"id": cluster_id, "name": cluster_id}
        )
    tenant = next((t for t in await p.tenants() if t["code"] == p.me.tenant), None)
    return p.render("account.html", clusters=clusters, tenant=tenant)


# ---- invitations and resets: a token from a mailed link, then a new password


def _link_refused(p: Page, status: int, errors: Errors) -> Response:
    if status == 422:  # not even the shape of a token: a link cut short or edited
        errors = Errors(
            general=["This link is not complete or not valid; open it again from the mail."]
        )
        status = 404
    return p.render("link_refused.html", status=status, errors=errors)


async def _token_page(p: Page, token: str, kind: str) -> Response:
    if kind == "invitation":
        r = await p.call("POST", "/v1/auth/invitations/inspect", json={"token": token})
        if r.status_code != 200:
            return _link_refused(p, r.status_code, explain(r, {}))
        return p.render(
            "set_password.html", kind=kind, token=token, invited=r.json(), errors=Errors()
        )
    return p.render("set_password.html", kind=kind, token=token, invited=None, errors=Errors())


async def _set_password(p: Page, kind: str) -> Response:
    form = await p.form()
    token = form.get("token")
    if form.get("password") != form.get("password_again"):
        errors = Errors(fields={"password_again": "The two passwords are not the same."})
        return p.render(
            "set_password.html", status=422, kind=kind, token=token, invited=None, errors=errors
        )
    path = (
        "/v1/auth/invitations/accept"
        if kind == "invitation"
        else "/v1/auth/password-resets/complete"
    )
    r = await p.call("POST", path, json={"token": token, "password": form.get("password")})
    if r.status_code == 200:
        if p.me is not None:
            p.end_session()
        return p.redirect("/sign-in", notice="password-set")
    errors = explain(r, PASSWORD_FIELDS, {"token": "token"})
    if r.status_code in (404, 410) or "token" in errors.fields:
        return _link_refused(p, r.status_code, explain(r, {}))
    return p.render(
        "set_password.html", status=422, kind=kind, token=token, invited=None, errors=errors
    )


@router.get("/accept-invitation")
async def accept_invitation_page(p: PageDep, token: str = "") -> Response:
    return await _token_page(p, token, "invitation")


@router.post("/accept-invitation")
async def accept_invitation(p: PageDep) -> Response:
    return await _set_password(p, "invitation")


@router.get("/reset-password")
async def reset_password_page(p: PageDep, token: str = "") -> Response:
    if not token:
        return p.render("reset_request.html", values={}, errors=Errors())
    return await _token_page(p, token, "reset")


@router.post("/reset-password")
async def reset_password(p: PageDep) -> Response:
    form = await p.form()
    if form.get("token"):
        return await _set_password(p, "reset")
    r = await p.call("POST", "/v1/auth/password-resets", json={"email": form.get("email").strip()})
    if r.status_code != 202:
        return p.render(
            "reset_request.html",
            status=422,
            values={"email": form.get("email")},
            errors=explain(r, {"email": "e-mail address"}),
        )
    return p.redirect("/sign-in", notice="reset-sent")
