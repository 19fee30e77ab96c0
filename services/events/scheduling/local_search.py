"""Simulated annealing on slot assignments that may break hard constraints for a while.

The search keeps a set of meetings to place (all of them, or the ones an earlier engine
placed) and moves one meeting at a time to another allowed slot. Hard constraints that
the moves can break (a participant in two meetings at once, more meetings in a slot
than free tables, two meetings at one fixed table, a precedence) cost `hard` each;
breaks cost one each and breaks above the fairness cap cost `FAIRNESS_PENALTY` more.
Letting the search cross infeasible schedules is what makes it find zero-break
schedules that a feasibility-keeping search cannot reach; the hard weight grows while
the search stays infeasible. Only the two participants of the moved meeting change, so
a move is scored in a few bit operations (a participant's busy slots are a bit mask; a
break is a run start that is not the first one).

Deterministic for a given seed and number of steps; the wall clock only decides when
to stop.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

from services.events.scheduling.model import Prepared

UNPLACED = -1
FAIRNESS_PENALTY = 4
# Soft cost of one break; every idle slot inside a participant's day adds one more, a
# slope that leads the search towards closing gaps.
BREAK = 8
# Temperatures (in breaks) at the start and end of one annealing cycle, and the cycle
# length in steps per movable meeting and allowed slot.
T_HIGH, T_LOW, CYCLE = 0.6, 0.04, 20
# Share of steps that swap the moved meeting with one of the target slot.
SWAP_SHARE = 0.5
# Steps between two looks at the clock and the stop callback.
CHECK_EVERY = 2048


def _breaks(mask: int) -> int:
    runs = (mask & ~(mask << 1)).bit_count()
    return runs - 1 if runs else 0


def _idle(mask: int) -> int:
    """Idle slots between a participant's first and last meeting."""
    if not mask:
        return 0
    return mask.bit_length() - (mask & -mask).bit_length() + 1 - mask.bit_count()


class Annealer:
    """Slot assignment of the meetings in `active` with incremental penalties."""

    def __init__(
        self, prep: Prepared, start: Sequence[int], active: Sequence[bool], seed: int
    ) -> None:
        self.prep = prep
        self.rng = random.Random(seed)
        n_slots = prep.n_slots
        n_people = len(prep.meetings_of)
        d = prep.problem.fairness
        self.cap = d if d is not None else None
        self.hard = 2
        free_set = set(prep.free_tables)
        self.uses_free = [t is None or t in free_set for t in prep.table]
        self.free_capacity = len(prep.free_tables)
        self.slot_of = [UNPLACED] * len(prep.a)
        self.count = [[0] * n_slots for _ in range(n_people)]
        self.mask = [0] * n_people
        self.clash = [0] * n_people
        self.load = [0] * n_slots
        self.at_table: dict[tuple[int, int], int] = {}
        # Meetings per slot, with each meeting's position for O(1) removal.
        self.in_slot: list[list[int]] = [[] for _ in range(n_slots)]
        self.position = [0] * len(prep.a)
        successors: list[list[int]] = [[] for _ in prep.a]
        for m, preds in enumerate(prep.predecessors):
            for q in preds:
                successors[q].append(m)
        self.successors = [tuple(x) for x in successors]
        self.allowed_set = [frozenset(x) for x in prep.allowed]
        self.movable = [m for m in range(len(prep.a)) if active[m] and len(prep.allowed[m]) > 1]
        self.pinned = frozenset(
            m for m in range(len(prep.a)) if not active[m] or len(prep.allowed[m]) <= 1
        )
        for m in range(len(prep.a)):
            if not active[m]:
                continue
            s = start[m]
            if s == UNPLACED or s not in prep.allowed[m]:
                s = self._cheapest_slot(m)
            self._put(m, s)

    # -- bookkeeping -------------------------------------------------------------------
    def _cheapest_slot(self, m: int) -> int:
        a, b = self.prep.a[m], self.prep.b[m]
        return min(
            self.prep.allowed[m],
            key=lambda s: (self.count[a][s] + self.count[b][s], self.load[s], s),
        )

    def _put(self, m: int, s: int) -> None:
        prep = self.prep
        self.slot_of[m] = s
        members = self.in_slot[s]
        self.position[m] = len(members)
        members.append(m)
        for p in (prep.a[m], prep.b[m]):
            c = self.count[p][s]
            if c:
                self.clash[p] += 1
            else:
                self.mask[p] |= 1 << s
            self.count[p][s] = c + 1
        if self.uses_free[m]:
            self.load[s] += 1
        t = prep.table[m]
        if t is not None:
            self.at_table[(s, t)] = self.at_table.get((s, t), 0) + 1

    def _take(self, m: int) -> None:
        prep = self.prep
        s = self.slot_of[m]
        self.slot_of[m] = UNPLACED
        members = self.in_slot[s]
        last = members.pop()
        if last != m:
            members[self.position[m]] = last
            self.position[last] = self.position[m]
        for p in (prep.a[m], prep.b[m]):
            c = self.count[p][s] - 1
            self.count[p][s] = c
            if c:
                self.clash[p] -= 1
            else:
                self.mask[p] &= ~(1 << s)
        if self.uses_free[m]:
            self.load[s] -= 1
        t = prep.table[m]
        if t is not None:
            self.at_table[(s, t)] -= 1

    def _objective(self, mask: int) -> int:
        """Breaks, plus the fairness penalty above the cap."""
        br = _breaks(mask)
        cap = self.cap
        if cap is not None and br > cap:
            return br + FAIRNESS_PENALTY * (br - cap)
        return br

    def _order_violations(self, m: int, s: int) -> int:
        slot_of = self.slot_of
        bad = 0
        for q in self.prep.predecessors[m]:
            if slot_of[q] != UNPLACED and slot_of[q] >= s:
                bad += 1
        for r in self.successors[m]:
            if slot_of[r] != UNPLACED and slot_of[r] <= s:
                bad += 1
        return bad

    # -- scores ------------------------------------------------------------------------
    def violations(self) -> int:
        over = sum(max(0, x - self.free_capacity) for x in self.load)
        tables = sum(max(0, c - 1) for c in self.at_table.values())
        order = sum(
            1
            for m, preds in enumerate(self.prep.predecessors)
            for q in preds
            if self.slot_of[m] != UNPLACED
            and self.slot_of[q] != UNPLACED
            and self.slot_of[q] >= self.slot_of[m]
        )
        return sum(self.clash) + over + tables + order

    def breaks(self) -> int:
        return sum(_breaks(mask) for mask in self.mask)

    def objective(self) -> int:
        return sum(self._objective(mask) for mask in self.mask)

    def delta(self, m: int, t: int) -> tuple[int, int, int]:
        """Changes of (hard violations, objective, idle slots inside) when m moves to t."""
        prep = self.prep
        s = self.slot_of[m]
        bit_s = 1 << s
        bit_t = 1 << t
        hard = 0
        soft = 0
        idle = 0
        for p in (prep.a[m], prep.b[m]):
            row = self.count[p]
            mask = self.mask[p]
            new = mask
            if row[s] > 1:
                hard -= 1
            else:
                new &= ~bit_s
            if row[t]:
                hard += 1
            else:
                new |= bit_t
            if new != mask:
                soft += self._objective(new) - self._objective(mask)
                idle += _idle(new) - _idle(mask)
        if self.uses_free[m]:
            cap = self.free_capacity
            if self.load[s] > cap:
                hard -= 1
            if self.load[t] >= cap:
                hard += 1
        table = prep.table[m]
        if table is not None:
            if self.at_table.get((s, table), 0) > 1:
                hard -= 1
            if self.at_table.get((t, table), 0) >= 1:
                hard += 1
        if prep.predecessors[m] or self.successors[m]:
            hard += self._order_violations(m, t) - self._order_violations(m, s)
        return hard, soft, idle

    # -- search ------------------------------------------------------------------------
    def run(
        self,
        deadline: float,
        *,
        target: int = 0,
        stop: Callable[[], bool] | None = None,
        max_steps: int | None = None,
    ) -> tuple[list[int], int] | None:
        """Anneal until `target` breaks, the deadline, `stop()` or `max_steps`.

        Returns the best schedule without hard violations and its breaks, or None when
        none was seen.
        """
        rng = self.rng
        movable = self.movable
        allowed = self.prep.allowed
        if not movable:
            return (list(self.slot_of), self.breaks()) if self.violations() == 0 else None
        viol = self.violations()
        objective = self.objective()
        best: tuple[list[int], int] | None = None
        best_cost = math.inf
        if viol == 0:
            best, best_cost = (list(self.slot_of), self.breaks()), objective
            if objective <= target:
                return best
        # Idle slots inside a day cost one each, a slope towards closing gaps; a break
        # costs BREAK of them.
        t_high, t_low = T_HIGH * BREAK, T_LOW * BREAK
        cycle = CYCLE * len(movable) * max(2, len(allowed[movable[0]]))
        steps = 0
        since_feasible = 0
        while True:
            if steps % CHECK_EVERY == 0 and (
                time.monotonic() >= deadline
                or (stop is not None and stop())
                or (max_steps is not None and steps >= max_steps)
            ):
                return best
            steps += 1
            phase = (steps % cycle) / cycle
            temp = t_high * (t_low / t_high) ** phase
            m = movable[rng.randrange(len(movable))]
            slots = allowed[m]
            t = slots[rng.randrange(len(slots))]
            if t == self.slot_of[m]:
                continue
            s = self.slot_of[m]
            d_hard, d_objective, d_idle = self.delta(m, t)
            partner = -1
            members = self.in_slot[t]
            if members and rng.random() < SWAP_SHARE:
                # Swap with a meeting of slot t that may go to slot s.
                partner = members[rng.randrange(len(members))]
                if s not in self.allowed_set[partner] or partner in self.pinned:
                    partner = -1
            if partner >= 0:
                self._take(m)
                self._put(m, t)
                h2, o2, i2 = self.delta(partner, s)
                change = BREAK * (self.hard * (d_hard + h2) + d_objective + o2) + d_idle + i2
                if change > 0 and rng.random() >= math.exp(-change / temp):
                    self._take(m)
                    self._put(m, s)
                    continue
                self._take(partner)
                self._put(partner, s)
                d_hard += h2
                d_objective += o2
            else:
                change = BREAK * (self.hard * d_hard + d_objective) + d_idle
                if change > 0 and rng.random() >= math.exp(-change / temp):
                    continue
                self._take(m)
                self._put(m, t)
            viol += d_hard
            objective += d_objective
            if viol:
                since_feasible += 1
                if since_feasible > 50 * len(movable):
                    self.hard += 1
                    since_feasible = 0
                continue
            since_feasible = 0
            if objective < best_cost:
                best_cost = objective
                best = (list(self.slot_of), self.breaks())
                if objective <= target:
                    return best
