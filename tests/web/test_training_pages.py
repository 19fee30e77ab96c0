"""Trainings through the pages: people of several tenants fill a training and the next
one lands on the waiting list, a cancellation moves the first waiting up, the organiser
takes attendance on a phone and messages the participants (the mail reaches the SMTP
sink), the attendee downloads a certificate with their name; and the attacks: the
organiser's view and attendance for someone else's training, a form without its CSRF
token, script in the name and the message, a certificate for someone who did not attend.
Each refusal is checked through the API: nothing changed."""

from __future__ import annotations

import re
import uuid
import zlib
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

from tests.events.helpers import ok
from tests.harness import Platform, mail_to
from tests.people_helpers import SignedInPerson, as_person, many_people
from tests.web.conftest import PHONE, screenshot
from tests.web.pages_helpers import watch_dialogs
from tests.web.test_partnership_pages import act_as

SCRIPT = "<script>alert('x')</script>"
BRUSSELS = ZoneInfo("Europe/Brussels")


def sessions() -> list[dict[str, str]]:
    """Yesterday and tomorrow in Brussels: started (attendance is taken on the day) and
    not over (registrations are taken), at any hour of the test."""
    today = datetime.now(BRUSSELS).date()
    return [
        {"date": str(today - timedelta(days=1)), "start": "09:00", "end": "12:30"},
        {"date": str(today + timedelta(days=1)), "start": "09:00", "end": "23:59"},
    ]


def first_session_text() -> str:
    day = date.fromisoformat(sessions()[0]["date"])
    zone_abbr = datetime.combine(day, time(9), BRUSSELS).tzname()
    return f"{day} 09:00 to 12:30 {zone_abbr} (Europe/Brussels)"


async def new_training(platform: Platform, capacity: int) -> dict[str, Any]:
    async with platform.client("eu") as c:
        made: dict[str, Any] = ok(
            await c.post(
                "/v1/trainings",
                json={
                    "title": f"Cluster management excellence {uuid.uuid4().hex[:6]}",
                    "venue": "Brussels, Rue Belliard 20",
                    "timezone": "Europe/Brussels",
                    "sessions": sessions(),
                    "capacity": capacity,
                },
            ),
            201,
        )
        return made


async def mine(platform: Platform, who: SignedInPerson, training_id: str) -> dict[str, Any] | None:
    async with as_person(platform, who) as c:
        r = await c.get(f"/v1/trainings/{training_id}/registrations/mine")
        return dict(r.json()) if r.status_code == 200 else None


def pdf_text(pdf: bytes) -> str:
    """The text a PDF shows, read back from its content streams: literal strings as they
    are, hex glyph strings through the embedded font's ToUnicode map."""
    streams = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    glyphs: dict[str, str] = {}
    for s in streams:
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", s, re.S):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                glyphs[src.decode().upper()] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", s, re.S):
            for lo, hi, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                width, first = len(lo), int(dst, 16)
                for n, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    glyphs[f"{code:0{width}X}"] = chr(first + n)
    shown = []
    for s in streams:
        for hexed in re.findall(rb"<([0-9A-Fa-f]+)>\s*Tj", s):
            h = hexed.decode().upper()
            shown.append("".join(glyphs.get(h[i : i + 4], "?") for i in range(0, len(h), 4)))
        for literal in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", s, re.S):
            raw = _unescape(literal)
            if glyphs and len(raw) % 2 == 0:  # two bytes a glyph of the embedded font
                pairs = (raw[i : i + 2].hex().upper() for i in range(0, len(raw), 2))
                shown.append("".join(glyphs.get(pair, "?") for pair in pairs))
            else:
                shown.append(raw.decode("latin-1"))
    return "\n".join(shown)


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes: `\\(`, `\\)`, `\\\\`, `\\n` ... and octal escapes."""
    named = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        return named.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


async def test_a_training_fills_moves_up_takes_attendance_and_gives_a_certificate(
    tab: Page, platform: Platform
) -> None:
    organiser, ana, ben, chie = await many_people(
        platform,
        [
            ("eu", ["organiser"], []),
            ("br", ["cluster-manager"], []),
            ("jp", ["cluster-manager"], []),
            ("kr", ["cluster-manager"], []),
        ],
    )
    # The organiser creates it; no seats at all is refused next to the field.
    title = f"Cluster management excellence {uuid.uuid4().hex[:6]}"
    await act_as(tab, platform, organiser)
    await tab.goto(f"{platform.gateway_url}/trainings")
    await tab.get_by_role("link", name="New training").click()
    await tab.get_by_label("Title").fill(title)
    await tab.get_by_label("Venue").fill("Brussels, Rue Belliard 20")
    await tab.get_by_label("Time zone of the training").fill("Europe/Brussels")
    await tab.get_by_label("Seats").fill("0")
    for i, session in enumerate(sessions()):
        await tab.get_by_label(f"Session {i + 1}: date").fill(session["date"])
        await tab.get_by_label(f"Session {i + 1}: starts").fill(session["start"])
        await tab.get_by_label(f"Session {i + 1}: ends").fill(session["end"])
    await tab.get_by_role("button", name="Create the training").click()
    await expect(tab.locator("#e-capacity")).to_be_visible()
    await expect(tab.get_by_label("Title")).to_have_value(title)
    async with platform.client("eu") as c:
        listed = ok(await c.get("/v1/trainings", params={"limit": 200}))["items"]
        assert [x for x in listed if x["title"] == title] == []
    await tab.get_by_label("Seats").fill("2")
    await tab.get_by_role("button", name="Create the training").click()
    await expect(tab.get_by_text("Created.")).to_be_visible()
    tid = tab.url.split("/trainings/")[1].split("?")[0]
    async with platform.client("br") as c:
        training = ok(await c.get(f"/v1/trainings/{tid}"))
    assert (training["title"], training["capacity"], training["tenant"]) == (title, 2, "eu")
    names = {ana: "Ana Luísa Gonçalves", ben: "Ben Okafor", chie: "Chie Tanaka"}

    await act_as(tab, platform, ana)
    await tab.goto(f"{platform.gateway_url}/trainings")
    await tab.get_by_role("link", name=training["title"]).click()
    await expect(tab.locator("main")).to_contain_text(first_session_text())
    await expect(tab.locator("#seats")).to_contain_text("2 of 2 seats left")
    await expect(tab.locator("main")).to_contain_text("organised by European Union")
    for who in (ana, ben, chie):
        await act_as(tab, platform, who)
        await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
        await tab.get_by_label("Your name as it should read on the certificate").fill(names[who])
        button = "Register" if who is not chie else "Join the waiting list"
        await tab.get_by_role("button", name=button, exact=True).click()
        said = "Registered." if who is not chie else "you are on its waiting list"
        await expect(tab.get_by_text(said)).to_be_visible()
    await expect(tab.get_by_text("Registered.")).to_have_count(0)
    # Past capacity: the third is on the waiting list, never over capacity.
    await expect(tab.locator("#my-status")).to_contain_text("waiting list, position 1")
    await expect(tab.locator("#seats")).to_contain_text("0 of 2 seats left; 1 on the waiting list")
    await screenshot(tab, "training-waiting")
    assert (await mine(platform, chie, tid) or {})["waiting_position"] == 1

    # Ana cancels: Chie, first on the waiting list, moves up.
    await act_as(tab, platform, ana)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    await expect(tab.locator("#my-status")).to_contain_text("You have a seat")
    await tab.get_by_role("button", name="Cancel my registration").click()
    # Her seat went to Chie at once: Ana could only join the waiting list again.
    await expect(tab.get_by_role("button", name="Join the waiting list")).to_be_visible()
    assert await mine(platform, ana, tid) is None
    await act_as(tab, platform, chie)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    await expect(tab.locator("#my-status")).to_contain_text("You have a seat")

    # The organiser, on a phone: the list in order, attendance, a message.
    await act_as(tab, platform, organiser)
    await tab.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    await tab.get_by_role("link", name="Registrations, attendance and messages").click()
    seats = tab.locator("ol.attendance li")
    await expect(seats).to_have_count(2)
    await expect(seats.nth(0)).to_contain_text("Ben Okafor")
    await expect(seats.nth(1)).to_contain_text("Chie Tanaka")
    await tab.get_by_role("button", name="Attended: Chie Tanaka").click()
    await expect(seats.nth(1)).to_contain_text("attended")
    await expect(tab.get_by_role("button", name="Not attended: Chie Tanaka")).to_be_visible()
    await screenshot(tab, "training-attendance-phone")
    await tab.get_by_label("To").select_option("registered")
    await tab.get_by_label("Subject").fill("Room change on Tuesday")
    await tab.get_by_label("Message", exact=True).fill("We meet in room 2 on Tuesday.")
    await tab.get_by_role("button", name="Send by mail").click()
    await expect(tab.get_by_text("Your message is on its way to 2 people.")).to_be_visible()
    body = await mail_to(platform, chie.email, "room 2 on Tuesday", timeout=60)
    assert "Room change" in body or "room 2" in body
    await mail_to(platform, ben.email, "room 2 on Tuesday", timeout=60)
    async with platform.client("eu") as c:
        listed = ok(await c.get(f"/v1/trainings/{tid}/registrations"))
    assert (listed["registered"], listed["waiting"], listed["attended"]) == (2, 0, 1)

    # Chie downloads her certificate; Ben, who did not attend, is told why he gets none.
    await act_as(tab, platform, chie)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    async with tab.expect_download() as caught:
        await tab.get_by_role("link", name="Download my certificate of attendance (PDF)").click()
    download = await caught.value
    path = await download.path()
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert "Chie Tanaka" in pdf_text(pdf)
    assert "Ben Okafor" not in pdf_text(pdf)
    ben_place = await mine(platform, ben, tid)
    assert ben_place is not None
    await act_as(tab, platform, ben)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    await expect(tab.get_by_role("link", name="Download my certificate")).to_have_count(0)
    r = await tab.request.get(
        f"{platform.gateway_url}/trainings/{tid}/registrations/{ben_place['id']}/certificate.pdf"
    )
    assert r.status == 409
    assert "only to a person whose attendance the organiser recorded" in await r.text()


async def test_training_forms_refused_across_the_walls_change_nothing(
    tab: Page, platform: Platform
) -> None:
    training = await new_training(platform, capacity=5)
    tid = training["id"]
    ana, ben, eu_manager = await many_people(
        platform,
        [
            ("br", ["cluster-manager"], []),
            ("jp", ["organiser"], []),  # an organiser, but of another tenant
            ("eu", ["cluster-manager"], []),  # the organiser's tenant, not an organiser
        ],
    )
    seen = watch_dialogs(tab)

    async def token() -> str:
        value = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value
        return value

    # Script in the name is stored and shown as text.
    await act_as(tab, platform, ana)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    await tab.get_by_label("Your name as it should read on the certificate").fill(f"Ana {SCRIPT}")
    await tab.get_by_role("button", name="Register", exact=True).click()
    await expect(tab.locator("#my-status")).to_contain_text(f"Ana {SCRIPT}")
    place = await mine(platform, ana, tid)
    assert place is not None
    assert place["name"] == f"Ana {SCRIPT}"

    # Ben's register form without its CSRF token: nothing registered.
    await act_as(tab, platform, ben)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
    r = await tab.request.post(
        f"{platform.gateway_url}/trainings/{tid}/register", form={"name": "Ben"}
    )
    assert r.status == 403
    assert "security token is missing" in await r.text()
    assert await mine(platform, ben, tid) is None

    # Organisers of another tenant and people of the organiser's tenant who do not
    # organise: no list, no attendance, no message, no cancelling someone else's place.
    for who in (ben, eu_manager):
        await act_as(tab, platform, who)
        await tab.goto(f"{platform.gateway_url}/trainings/{tid}")
        await expect(tab.get_by_role("link", name="Registrations, attendance")).to_have_count(0)
        await tab.goto(f"{platform.gateway_url}/trainings/{tid}/organise")
        await expect(tab.locator("main")).to_contain_text("Only the organisers")
        for path, form in (
            (f"registrations/{place['id']}/attendance", {"attended": "yes"}),
            ("messages", {"subject": "Spam", "body": "Spam", "to": "all"}),
            (f"registrations/{place['id']}/cancel", {}),
        ):
            r = await tab.request.post(
                f"{platform.gateway_url}/trainings/{tid}/{path}",
                form={"csrf_token": await token(), **form},
            )
            assert r.status in (403, 404), (path, r.status)
    after = await mine(platform, ana, tid)
    assert after is not None
    assert (after["status"], after["attended"]) == ("registered", False)
    assert not [m for m in platform.mail.messages() if "Spam" in str(m["Subject"])]

    # The organiser's view shows the script as text; a message with script in it is sent
    # as text; a blank subject is refused next to its field.
    (organiser,) = await many_people(platform, [("eu", ["organiser"], [])])
    await act_as(tab, platform, organiser)
    await tab.goto(f"{platform.gateway_url}/trainings/{tid}/organise")
    await expect(tab.locator("ol.attendance")).to_contain_text(f"Ana {SCRIPT}")
    # Blanks pass the browser's `required` but not the API: the sentence sits by the field.
    await tab.get_by_label("Subject").fill("   ")
    await tab.get_by_label("Message", exact=True).fill("No subject.")
    await tab.get_by_role("button", name="Send by mail").click()
    await expect(tab.locator("#e-subject")).to_be_visible()
    await expect(tab.get_by_label("Message", exact=True)).to_have_value("No subject.")
    await tab.get_by_label("Subject").fill(f"Hello {SCRIPT}")
    await tab.get_by_label("Message", exact=True).fill(f"Body {SCRIPT}")
    await tab.get_by_role("button", name="Send by mail").click()
    await expect(tab.get_by_text("Your message is on its way to 1 person.")).to_be_visible()
    await mail_to(platform, ana.email, "Body <script>", timeout=60)
    # A certificate for a place without recorded attendance: refused, in words.
    r = await tab.request.get(
        f"{platform.gateway_url}/trainings/{tid}/registrations/{place['id']}/certificate.pdf"
    )
    assert r.status == 409
    assert seen == []
    assert await tab.locator("main script").count() == 0
