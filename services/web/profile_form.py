"""A cluster profile as a form: the API's fields as form fields and back.

Lists are one entry per line (or comma-separated codes); empty optional fields clear
their value. Kept apart from the routes so the edit and create pages share it.
"""

from __future__ import annotations

import re
from typing import Any

from services.web.pages import Form

LINES = ("competences", "technologies", "offers", "needs")
CODES = ("languages", "nace_codes", "target_countries")
OPTIONAL = ("region", "city", "website", "contact_email", "external_id")
MEMBERS = ("smes", "large_firms", "research_education", "other")

FIELDS: dict[str, str] = {
    "name": "name",
    "country": "country",
    "region": "region",
    "city": "city",
    "website": "web site",
    "description": "description",
    "ecosystems": "ecosystems",
    "nace_codes": "NACE codes",
    "languages": "languages",
    "competences": "competences",
    "technologies": "technologies",
    "offers": "what you offer",
    "needs": "what you need",
    "target_countries": "target countries",
    "members_smes": "SMEs",
    "members_large_firms": "large firms",
    "members_research_education": "research and education",
    "members_other": "other members",
    "contact_email": "contact e-mail",
    "label_level": "excellence label",
    "label_valid_until": "label valid until",
}
ALIASES = {f"members.{m}": f"members_{m}" for m in MEMBERS} | {
    "members": "members_smes",
    "label.level": "label_level",
    "label.valid_until": "label_valid_until",
    "label": "label_level",
}
_SPLIT = re.compile(r"[,;\s]+")


def values_of(cluster: dict[str, Any]) -> dict[str, str]:
    """A profile as the strings its form shows."""
    out: dict[str, str] = {}
    for name in ("name", "country", "description", *OPTIONAL):
        out[name] = str(cluster.get(name) or "")
    for name in LINES:
        out[name] = "\n".join(cluster.get(name) or [])
    for name in CODES:
        out[name] = ", ".join(cluster.get(name) or [])
    members = cluster.get("members") or {}
    for m in MEMBERS:
        out[f"members_{m}"] = str(members.get(m, 0))
    label = cluster.get("label") or {}
    out["label_level"] = str(label.get("level") or "none")
    out["label_valid_until"] = str(label.get("valid_until") or "")
    out["ecosystems"] = ",".join(cluster.get("ecosystems") or [])
    return out


def _number(value: str) -> int | str:
    value = value.strip()
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return value  # the API says why it is not a number, next to the field


def body_of(form: Form, *, with_label: bool) -> dict[str, Any]:
    """The JSON the API takes, from what was typed."""
    body: dict[str, Any] = {
        "name": form.get("name"),
        "country": form.get("country").strip().upper(),
        "description": form.get("description"),
        "ecosystems": form.getlist("ecosystems"),
    }
    for name in OPTIONAL:
        if name == "external_id":
            continue
        body[name] = form.get(name).strip() or None
    for name in LINES:
        body[name] = [line.strip() for line in form.get(name).splitlines() if line.strip()]
    for name in CODES:
        body[name] = [c for c in _SPLIT.split(form.get(name).strip()) if c]
    body["members"] = {m: _number(form.get(f"members_{m}")) for m in MEMBERS}
    if with_label:
        body["label"] = {
            "level": form.get("label_level") or "none",
            "valid_until": form.get("label_valid_until").strip() or None,
        }
    return body


def typed_values(form: Form) -> dict[str, str]:
    values = form.values()
    values["ecosystems"] = ",".join(form.getlist("ecosystems"))
    return values


def differences(theirs: dict[str, str], mine: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, their saved value, what you typed) for every field that differs."""
    out = []
    for name, label in FIELDS.items():
        if name not in mine:  # not on this person's form (the label, for a manager)
            continue
        a, b = theirs.get(name, ""), mine.get(name, "")
        if name == "ecosystems":
            if set(a.split(",")) - {""} != set(b.split(",")) - {""}:
                out.append((label, a.replace(",", ", "), b.replace(",", ", ")))
        elif _normal(a) != _normal(b):
            out.append((label, a, b))
    return out


def _normal(value: str) -> str:
    # Browsers send textarea lines with CRLF; a re-typed list is the same list.
    return "\n".join(line.strip() for line in value.strip().splitlines())
