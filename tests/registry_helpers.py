"""Small builders for cluster payloads used across tests."""

from __future__ import annotations

import uuid
from typing import Any

COUNTRY_OF = {"jp": "JP", "br": "BR", "kr": "KR", "eu": "DE", "in": "IN", "tn": "TN", "ma": "MA"}


def cluster_payload(tenant: str = "jp", /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Test cluster {uuid.uuid4().hex[:8]}",
        "country": COUNTRY_OF[tenant],
        "city": "Somewhere",
        "description": "A cluster of battery and mobility firms.",
        "languages": ["en"],
        "ecosystems": ["mobility-transport-automotive", "energy-renewables"],
        "nace_codes": ["C", "27.20"],
        "competences": ["battery cell design", "power electronics"],
        "technologies": ["solid-state batteries"],
        "offers": ["pilot lines for cell testing"],
        "needs": ["battery recycling partners"],
        "target_countries": ["DE", "KR"],
        "members": {"smes": 40, "large_firms": 5, "research_education": 6, "other": 2},
        "label": {"level": "silver", "valid_until": "2028-12-31"},
        "contact_email": "secretariat@example.org",
    }
    body.update(overrides)
    return body
