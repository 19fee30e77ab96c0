"""Counting breaks.

A break is a maximal run of idle slots between two meetings of one participant; idle
slots before its first or after its last meeting are not breaks. The day is one
timeline: the lunch gap is no slot, so a participant with meetings in the last morning
slot and the first afternoon slot has no break there, while idle slots at the end of
the morning or the start of the afternoon, between two meetings, form a break. This is
the reading under which the proven optima of the JAIR 2022 instances are reproduced
(counting each session on its own gives totals below some proven optima).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise


def breaks_of(slots: Iterable[int]) -> int:
    """Number of breaks of a participant busy in `slots` (distinct slot numbers)."""
    ordered = sorted(slots)
    return sum(1 for x, y in pairwise(ordered) if y > x + 1)
