"""Upper bounds on the placed weight, cheap enough for any size.

Three relaxations, the smallest wins:
- everything that has at least one allowed slot;
- capacity: at most n_tables meetings per slot, so the heaviest slots * tables meetings;
- degree: every placed meeting uses a slot of both its participants, and participant p
  can take at most cap_p meetings (its usable slots, its maximum), so twice the placed
  weight is at most the sum over participants of their cap_p heaviest meetings.
"""

from __future__ import annotations

from services.events.scheduling.model import Prepared


def placed_weight_bound(prep: Prepared) -> int:
    placeable = [i for i in range(len(prep.a)) if prep.allowed[i]]
    total = sum(prep.weight[i] for i in placeable)

    per_slot = [0] * prep.n_slots
    for i in placeable:
        for s in prep.allowed[i]:
            per_slot[s] += 1
    capacity = sum(min(prep.problem.n_tables, c) for c in per_slot)
    heaviest = sorted((prep.weight[i] for i in placeable), reverse=True)
    by_capacity = sum(heaviest[:capacity])

    doubled = 0
    for p, mine in enumerate(prep.meetings_of):
        usable = [i for i in mine if prep.allowed[i]]
        slots = {s for i in usable for s in prep.allowed[i]}
        cap = min(prep.max_meetings[p], len(slots))
        doubled += sum(sorted((prep.weight[i] for i in usable), reverse=True)[:cap])
    return min(total, by_capacity, doubled // 2)
