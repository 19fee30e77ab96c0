"""The matching engine's view of a cluster profile: only the public fields.

The profile is built from the `registry.cluster.upserted` event data (the public profile,
see docs/DEVELOPING.md). Nothing private (contact e-mail, API clients) ever reaches it, so
anything the engine derives from a profile, explanations included, is public too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.taxonomy import LabelLevel

# Fields holding free text that the engine vectorises. `profile` is what a cluster *is*
# (used for peer similarity); `offers` and `needs` drive complementarity.
PHRASE_FIELDS: tuple[str, ...] = ("competences", "technologies", "offers", "needs")
TEXT_FIELDS: tuple[str, ...] = ("description", *PHRASE_FIELDS)


def _strings(value: Any) -> tuple[str, ...]:
    """A tuple of stripped, non-empty strings from a list-ish event value (None → ())."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    out: list[str] = []
    for item in value:
        if item is None:
            continue
        text = str(item).strip()
        if text:
            out.append(text)
    return tuple(out)


def _codes(value: Any) -> tuple[str, ...]:
    """Country / language / ecosystem codes: lower-cased, de-duplicated, order kept."""
    seen: dict[str, None] = {}
    for item in _strings(value):
        seen.setdefault(item.lower(), None)
    return tuple(seen)


def _label(value: Any) -> LabelLevel:
    # The event carries {"level": ..., "valid_until": ...}; accept a bare level too.
    if isinstance(value, Mapping):
        value = value.get("level")
    if value is None or value == "":
        return LabelLevel.NONE
    if isinstance(value, LabelLevel):
        return value
    return LabelLevel(str(value).lower())


def _label_end(value: Any) -> date | None:
    # The label's last valid day; anything unreadable counts as no end given, as the
    # registry validates it before publishing.
    end = value.get("valid_until") if isinstance(value, Mapping) else None
    if isinstance(end, date):
        return end
    if isinstance(end, str):
        try:
            return date.fromisoformat(end)
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Profile:
    """A cluster organisation's public profile as the match index sees it."""

    id: str
    tenant: str
    name: str
    country: str
    description: str = ""
    region: str | None = None
    city: str | None = None
    languages: tuple[str, ...] = ()
    ecosystems: tuple[str, ...] = ()
    nace_codes: tuple[str, ...] = ()
    competences: tuple[str, ...] = ()
    technologies: tuple[str, ...] = ()
    offers: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    target_countries: tuple[str, ...] = ()
    label: LabelLevel = LabelLevel.NONE
    label_valid_until: date | None = None
    verified: bool = False
    version: int = 0
    # Derived once: lower-case country for comparisons; kept out of equality/repr noise.
    _country_key: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("profile id is required")
        object.__setattr__(self, "_country_key", self.country.strip().upper())

    def label_on(self, day: date) -> LabelLevel:
        """The label as it stands on `day`: an expired one is no label (read time)."""
        if self.label_valid_until is not None and self.label_valid_until < day:
            return LabelLevel.NONE
        return self.label

    @property
    def country_code(self) -> str:
        """Alpha-2 country code, upper case."""
        return self._country_key

    @classmethod
    def from_event_data(cls, data: Mapping[str, Any]) -> Profile:
        """Build from `registry.cluster.upserted` data; optional keys may be missing.

        Unknown keys (members, website, timestamps, ...) are ignored: the engine needs
        none of them, and ignoring them keeps it working when the event grows.
        """
        try:
            raw_id = data["id"]
            tenant = data["tenant"]
            country = data["country"]
        except KeyError as exc:
            raise ValueError(f"profile event data lacks {exc.args[0]!r}") from None
        ident = str(raw_id) if isinstance(raw_id, uuid.UUID) else str(raw_id).strip()
        return cls(
            id=ident,
            tenant=str(tenant).lower(),
            name=str(data.get("name") or ""),
            country=str(country).upper(),
            description=str(data.get("description") or ""),
            region=data.get("region") or None,
            city=data.get("city") or None,
            languages=_codes(data.get("languages")),
            ecosystems=_codes(data.get("ecosystems")),
            nace_codes=_strings(data.get("nace_codes")),
            competences=_strings(data.get("competences")),
            technologies=_strings(data.get("technologies")),
            offers=_strings(data.get("offers")),
            needs=_strings(data.get("needs")),
            target_countries=tuple(c.upper() for c in _codes(data.get("target_countries"))),
            label=_label(data.get("label")),
            label_valid_until=_label_end(data.get("label")),
            verified=bool(data.get("verified", False)),
            version=int(data.get("version") or 0),
        )

    # --- text extraction -----------------------------------------------------------------

    def phrases(self, field_name: str) -> tuple[str, ...]:
        """The phrases of one text field; the description counts as one phrase."""
        if field_name == "description":
            return (self.description,) if self.description.strip() else ()
        if field_name not in PHRASE_FIELDS:
            raise ValueError(f"not a text field: {field_name}")
        value: tuple[str, ...] = getattr(self, field_name)
        return value

    def profile_text(self) -> str:
        """What the cluster is and can do: description, competences, technologies."""
        return _join((self.description, *self.competences, *self.technologies))

    def offers_text(self) -> str:
        return _join(self.offers)

    def needs_text(self) -> str:
        return _join(self.needs)

    def all_text(self) -> str:
        """Every public text field; what a plain full-text baseline would index."""
        return _join(
            (self.description, *self.competences, *self.technologies, *self.offers, *self.needs)
        )


def _join(parts: Iterable[str]) -> str:
    # For whole-text consumers (the benchmark's baseline, logs). The index itself
    # vectorises phrase by phrase, so its bigrams never bridge two phrases.
    return " . ".join(p for p in parts if p)
