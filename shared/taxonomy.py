"""Shared vocabularies: the 14 EU industrial ecosystems, excellence labels, member types.

Codes are stable slugs used in the API, in events and in the match index; labels are
what people read.
"""

from __future__ import annotations

from enum import StrEnum

ECOSYSTEMS: dict[str, str] = {
    "aerospace-defence": "Aerospace & defence",
    "agri-food": "Agri-food",
    "construction": "Construction",
    "cultural-creative": "Cultural & creative industries",
    "digital": "Digital",
    "electronics": "Electronics",
    "energy-intensive": "Energy-intensive industries",
    "energy-renewables": "Energy-renewables",
    "health": "Health",
    "mobility-transport-automotive": "Mobility-transport-automotive",
    "proximity-social-economy": "Proximity, social economy & civil security",
    "retail": "Retail",
    "textiles": "Textiles",
    "tourism": "Tourism",
}


class LabelLevel(StrEnum):
    """European Cluster Excellence label levels, ordered from none to gold."""

    NONE = "none"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"

    @property
    def rank(self) -> int:
        return _LABEL_RANK[self]


_LABEL_RANK = {LabelLevel.NONE: 0, LabelLevel.BRONZE: 1, LabelLevel.SILVER: 2, LabelLevel.GOLD: 3}

MEMBER_TYPES: tuple[str, ...] = ("smes", "large_firms", "research_education", "other")
