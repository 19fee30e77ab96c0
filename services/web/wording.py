"""The API's problem documents turned into sentences for a person, each placed next to
the field of the form it concerns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

_PREFIXES = ("Value error, ", "Assertion failed, ")
_LOC_INDEX = re.compile(r"\.\d+")


def sentence(text: str) -> str:
    """`value error, must be ...` -> `Must be ....`"""
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.strip()
    if not text:
        return "This value is not accepted."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass
class Errors:
    """What was refused: sentences by form field, and the rest for the top of the form."""

    general: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.general or self.fields)

    def add(self, name: str | None, text: str) -> None:
        if name:
            # One sentence per field; the first problem is the one to fix first.
            self.fields.setdefault(name, text)
        else:
            self.general.append(text)


def _document(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def explain(
    response: httpx.Response,
    form_fields: Mapping[str, str],
    aliases: Mapping[str, str] | None = None,
) -> Errors:
    """Sentences for a refused call. `form_fields` maps the form's field names to their
    labels; `aliases` maps an API field (its first segment) to a form field."""
    aliases = aliases or {}
    doc = _document(response)
    detail = sentence(
        str(doc.get("detail") or f"The request was refused ({response.status_code}).")
    )
    out = Errors()

    def place(api_field: str | None, text: str) -> None:
        if not api_field:
            out.add(None, text)
            return
        plain = _LOC_INDEX.sub("", api_field)
        head = plain.split(".")[0]
        name = aliases.get(plain) or aliases.get(head) or head
        if name in form_fields:
            out.add(name, text)
        else:
            label = form_fields.get(name) or head.replace("_", " ")
            out.add(None, f"{label[0].upper() + label[1:]}: {text[0].lower() + text[1:]}")

    errors = doc.get("errors")
    if response.status_code == 422 and isinstance(errors, list) and errors:
        for err in errors:
            if isinstance(err, dict):
                place(str(err.get("field") or "") or None, sentence(str(err.get("message", ""))))
        return out
    place(str(doc.get("field") or "") or None, detail)
    return out


def detail_of(response: httpx.Response) -> str:
    return sentence(str(_document(response).get("detail") or f"Refused ({response.status_code})."))
