"""Who may appear in results: countries, tenants, ecosystems, minimum label."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.taxonomy import ECOSYSTEMS, LabelLevel

from .errors import InvalidQuery

ECOSYSTEM_BITS: dict[str, int] = {code: 1 << i for i, code in enumerate(sorted(ECOSYSTEMS))}


def ecosystem_mask(ecosystems: Iterable[str]) -> int:
    """Bit set of known ecosystem codes; unknown codes are ignored (not an error here:
    the registry validates profiles, the index only must not crash on a new code)."""
    bits = 0
    for code in ecosystems:
        bits |= ECOSYSTEM_BITS.get(code, 0)
    return bits


@dataclass(frozen=True, slots=True)
class Filters:
    """Result filters. Empty sets mean "any"."""

    countries: frozenset[str] = field(default_factory=frozenset)
    tenants: frozenset[str] = field(default_factory=frozenset)
    ecosystems: frozenset[str] = field(default_factory=frozenset)
    min_label: LabelLevel = LabelLevel.NONE
    verified_only: bool = False
    # The point of the platform is partners abroad; a caller can opt in to compatriots.
    exclude_own_country: bool = True

    @classmethod
    def make(
        cls,
        *,
        countries: Iterable[str] = (),
        tenants: Iterable[str] = (),
        ecosystems: Iterable[str] = (),
        min_label: LabelLevel | str = LabelLevel.NONE,
        verified_only: bool = False,
        exclude_own_country: bool = True,
    ) -> Filters:
        """Normalising constructor: upper-case countries, lower-case codes, checked."""
        eco = frozenset(e.lower() for e in ecosystems)
        unknown = sorted(eco - ECOSYSTEMS.keys())
        if unknown:
            raise InvalidQuery(f"unknown ecosystems: {', '.join(unknown)}")
        try:
            label = LabelLevel(min_label)
        except ValueError:
            raise InvalidQuery(f"unknown label level {min_label!r}") from None
        return cls(
            countries=frozenset(c.upper() for c in countries),
            tenants=frozenset(t.lower() for t in tenants),
            ecosystems=eco,
            min_label=label,
            verified_only=verified_only,
            exclude_own_country=exclude_own_country,
        )


NO_FILTERS = Filters()
