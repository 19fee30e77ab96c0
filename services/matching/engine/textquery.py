"""Recognise country names and ecosystem words in a free-text search.

"battery recycling partners in Korea" → text "battery recycling partners", country KR.
Country names come from pycountry (no network); only names are matched, never alpha-2
codes, because "in", "it", "be" are English words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pycountry

from shared.taxonomy import ECOSYSTEMS

# Names people write that pycountry spells differently.
_ALIASES = {
    "korea": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "czechia": "CZ",
    "czech republic": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "uk": "GB",
    "united kingdom": "GB",
    "britain": "GB",
    "great britain": "GB",
    "usa": "US",
    "united states": "US",
    "america": "US",
    "russia": "RU",
    "vietnam": "VN",
    "iran": "IR",
    "taiwan": "TW",
    "tunisia": "TN",
    "morocco": "MA",
    "brazil": "BR",
}
# Country names that are also ordinary words in industry texts.
_AMBIGUOUS = {"turkey", "chad", "jersey", "guinea", "georgia", "jordan", "niger", "china"}
_WORD = re.compile(r"[a-z][a-z'-]*")


@cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                key = value.lower()
                if key not in _AMBIGUOUS:
                    names.setdefault(key, c.alpha_2)
    names.update(_ALIASES)
    return names


@cache
def _ecosystem_words() -> dict[str, str]:
    words: dict[str, str] = {}
    for code, label in ECOSYSTEMS.items():
        words[code] = code
        words[code.replace("-", " ")] = code
        words[label.lower()] = code
    words.update({"agrifood": "agri-food", "aerospace": "aerospace-defence", "textile": "textiles"})
    return words


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str  # what is left to search for
    countries: frozenset[str]
    ecosystems: frozenset[str]


def parse(text: str) -> ParsedQuery:
    """Longest-first match of 1-4 word spans against country and ecosystem names."""
    words = _WORD.findall(text.lower())
    countries: set[str] = set()
    ecosystems: set[str] = set()
    names = _country_names()
    eco = _ecosystem_words()
    keep: list[str] = []
    i = 0
    while i < len(words):
        for n in (4, 3, 2, 1):
            span = " ".join(words[i : i + n])
            if i + n <= len(words) and span in names:
                countries.add(names[span])
                i += n
                break
            if i + n <= len(words) and span in eco:
                ecosystems.add(eco[span])
                # The ecosystem word is also a useful search term ("digital twins").
                keep.extend(words[i : i + n])
                i += n
                break
        else:
            keep.append(words[i])
            i += 1
    return ParsedQuery(" ".join(keep), frozenset(countries), frozenset(ecosystems))
