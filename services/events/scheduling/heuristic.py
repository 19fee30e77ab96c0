"""Greedy slot-by-slot construction and local improvement, for any size.

Construction walks the slots in time order and, in each, picks a set of meetings with
pairwise distinct participants up to the free tables (a greedy capacity-bounded
matching). The order favours heavy meetings, then meetings that extend a participant's
current run (no new break), then participants with little slack left (few usable
slots for many missing meetings).

Improvement then inserts unplaced meetings wherever they fit, and moves or swaps
placed meetings between slots when that lowers breaks, with a penalty for
participants above the fairness limit. It never unplaces a meeting, so the placed
weight only grows. Participants' slots are bit masks: a break is a run start that is
not the first one.
"""

from __future__ import annotations

import random
import time

from services.events.scheduling.model import Prepared

UNPLACED = -1
# Weight of one break above the fairness limit relative to one ordinary break.
FAIRNESS_PENALTY = 50


def mask_breaks(mask: int) -> int:
    runs = (mask & ~(mask << 1)).bit_count()
    return runs - 1 if runs else 0


class State:
    """A slot assignment with the incremental bookkeeping the moves need."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        n = len(prep.a)
        self.slot_of = [UNPLACED] * n
        self.busy = [0] * len(prep.meetings_of)
        self.count = [0] * len(prep.meetings_of)
        free_set = set(prep.free_tables)
        self.uses_free = [t is None or t in free_set for t in prep.table]
        self.free_capacity = len(prep.free_tables)
        self.free_used = [0] * prep.n_slots
        self.table_taken: set[tuple[int, int]] = set()
        self.allowed_mask = [sum(1 << s for s in allowed) for allowed in prep.allowed]
        successors: list[list[int]] = [[] for _ in range(n)]
        for m, preds in enumerate(prep.predecessors):
            for q in preds:
                successors[q].append(m)
        self.successors = [tuple(x) for x in successors]
        self.in_slot: list[set[int]] = [set() for _ in range(prep.n_slots)]

    def order_ok(self, m: int, s: int) -> bool:
        slot_of = self.slot_of
        for q in self.prep.predecessors[m]:
            if slot_of[q] != UNPLACED and slot_of[q] >= s:
                return False
        return all(slot_of[q] == UNPLACED or slot_of[q] > s for q in self.successors[m])

    def can_place(self, m: int, s: int) -> bool:
        """Whether unplaced meeting m fits in slot s as things stand."""
        prep = self.prep
        a, b = prep.a[m], prep.b[m]
        bit = 1 << s
        if not self.allowed_mask[m] & bit or (self.busy[a] | self.busy[b]) & bit:
            return False
        if self.count[a] >= prep.max_meetings[a] or self.count[b] >= prep.max_meetings[b]:
            return False
        if self.uses_free[m] and self.free_used[s] >= self.free_capacity:
            return False
        t = prep.table[m]
        if t is not None and (s, t) in self.table_taken:
            return False
        return self.order_ok(m, s)

    def place(self, m: int, s: int) -> None:
        prep = self.prep
        a, b = prep.a[m], prep.b[m]
        self.slot_of[m] = s
        self.busy[a] |= 1 << s
        self.busy[b] |= 1 << s
        self.count[a] += 1
        self.count[b] += 1
        if self.uses_free[m]:
            self.free_used[s] += 1
        t = prep.table[m]
        if t is not None:
            self.table_taken.add((s, t))
        self.in_slot[s].add(m)

    def remove(self, m: int) -> None:
        prep = self.prep
        s = self.slot_of[m]
        a, b = prep.a[m], prep.b[m]
        self.slot_of[m] = UNPLACED
        self.busy[a] &= ~(1 << s)
        self.busy[b] &= ~(1 << s)
        self.count[a] -= 1
        self.count[b] -= 1
        if self.uses_free[m]:
            self.free_used[s] -= 1
        t = prep.table[m]
        if t is not None:
            self.table_taken.discard((s, t))
        self.in_slot[s].discard(m)


def construct(prep: Prepared, seed: int, fixed: dict[int, int] | None = None) -> State:
    """Greedy slot-by-slot construction; `fixed` meetings are placed first."""
    rng = random.Random(seed)
    state = State(prep)
    n = len(prep.a)
    for m, s in (fixed or {}).items():
        state.place(m, s)
    forced_slot = {m: prep.allowed[m][0] for m in range(n) if prep.forced[m]}
    for m, s in forced_slot.items():
        if state.slot_of[m] == UNPLACED and state.can_place(m, s):
            state.place(m, s)
    by_slot: list[list[int]] = [[] for _ in range(prep.n_slots)]
    for m in range(n):
        if state.slot_of[m] == UNPLACED:
            for s in prep.allowed[m]:
                by_slot[s].append(m)
    usable = [0] * len(prep.meetings_of)
    for m in range(n):
        usable[prep.a[m]] |= state.allowed_mask[m]
        usable[prep.b[m]] |= state.allowed_mask[m]
    missing = [0] * len(prep.meetings_of)
    for m in range(n):
        if state.slot_of[m] == UNPLACED:
            missing[prep.a[m]] += 1
            missing[prep.b[m]] += 1
    noise = [rng.random() for _ in range(n)]
    for s in range(prep.n_slots):
        later = ~((1 << s) - 1)
        prev = 1 << (s - 1) if s else 0

        def slack(p: int, later: int = later) -> int:
            want = min(missing[p], prep.max_meetings[p] - state.count[p])
            return (usable[p] & later & ~state.busy[p]).bit_count() - want

        scored = []
        for m in by_slot[s]:
            if state.slot_of[m] != UNPLACED:
                continue
            a, b = prep.a[m], prep.b[m]
            run = bool(state.busy[a] & prev) + bool(state.busy[b] & prev)
            scored.append((-prep.weight[m], -run, min(slack(a), slack(b)), noise[m], m))
        scored.sort()
        for *_, m in scored:
            # Wait for predecessors while building, so that they still find room
            # before; improve() later inserts what is left without this restriction.
            if any(not 0 <= state.slot_of[q] < s for q in prep.predecessors[m]):
                continue
            if state.can_place(m, s):
                state.place(m, s)
                missing[prep.a[m]] -= 1
                missing[prep.b[m]] -= 1
    return state


def _cost(mask: int, cap: int | None) -> int:
    br = mask_breaks(mask)
    if cap is not None and br > cap:
        return br + FAIRNESS_PENALTY * (br - cap)
    return br


def fairness_cap(state: State) -> int | None:
    """Breaks allowed per participant: the current minimum plus the fairness limit."""
    d = state.prep.problem.fairness
    if d is None:
        return None
    return min((mask_breaks(mask) for mask in state.busy), default=0) + d


def improve(state: State, deadline: float, seed: int) -> None:
    """Insert, move and swap meetings while it pays and time remains."""
    prep = state.prep
    rng = random.Random(seed)
    n = len(prep.a)
    movable = [m for m in range(n) if not prep.forced[m]]
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        cap = fairness_cap(state)
        # Inserting comes first: placed weight outranks breaks.
        for m in sorted(
            (m for m in movable if state.slot_of[m] == UNPLACED), key=lambda m: -prep.weight[m]
        ):
            best: tuple[int, int] | None = None
            a, b = prep.a[m], prep.b[m]
            for s in prep.allowed[m]:
                if state.can_place(m, s):
                    bit = 1 << s
                    delta = (
                        _cost(state.busy[a] | bit, cap)
                        + _cost(state.busy[b] | bit, cap)
                        - _cost(state.busy[a], cap)
                        - _cost(state.busy[b], cap)
                    )
                    if best is None or delta < best[0]:
                        best = (delta, s)
            if best is not None:
                state.place(m, best[1])
                improved = True
        order = [m for m in movable if state.slot_of[m] != UNPLACED]
        rng.shuffle(order)
        for count, m in enumerate(order):
            if count % 256 == 0 and time.monotonic() >= deadline:
                return
            if _move_or_swap(state, m, cap):
                improved = True


def _move_or_swap(state: State, m: int, cap: int | None) -> bool:
    prep = state.prep
    s = state.slot_of[m]
    if s == UNPLACED:
        return False
    a, b = prep.a[m], prep.b[m]
    bit_s = 1 << s
    base_a = state.busy[a] & ~bit_s
    base_b = state.busy[b] & ~bit_s
    old = _cost(state.busy[a], cap) + _cost(state.busy[b], cap)
    candidates = []
    for t in prep.allowed[m]:
        bit_t = 1 << t
        if t == s or (base_a | base_b) & bit_t:
            continue
        gain = old - _cost(base_a | bit_t, cap) - _cost(base_b | bit_t, cap)
        if gain > 0:
            candidates.append((-gain, t))
    if not candidates:
        return False
    candidates.sort()
    state.remove(m)
    for neg_gain, t in candidates:
        if state.can_place(m, t):
            state.place(m, t)
            return True
        # Slot t is full: try to swap with a meeting of t that fits in s.
        if state.uses_free[m] and state.free_used[t] >= state.free_capacity:
            for m2 in list(state.in_slot[t]):
                if prep.forced[m2] or not state.uses_free[m2]:
                    continue
                a2, b2 = prep.a[m2], prep.b[m2]
                if {a2, b2} & {a, b}:
                    continue
                state.remove(m2)
                if state.can_place(m2, s):
                    before = _cost(state.busy[a2] | (1 << t), cap) + _cost(
                        state.busy[b2] | (1 << t), cap
                    )
                    after = _cost(state.busy[a2] | bit_s, cap) + _cost(state.busy[b2] | bit_s, cap)
                    if after - before < -neg_gain:
                        state.place(m2, s)
                        if state.can_place(m, t):
                            state.place(m, t)
                            return True
                        state.remove(m2)
                state.place(m2, t)
    state.place(m, s)
    return False


def assign_tables(prep: Prepared, slot_of: list[int]) -> list[int]:
    """Tables for placed meetings: fixed/host tables first, then the lowest free ones."""
    tables = [UNPLACED] * len(slot_of)
    by_slot: list[list[int]] = [[] for _ in range(prep.n_slots)]
    for m, s in enumerate(slot_of):
        if s != UNPLACED:
            by_slot[s].append(m)
    for members in by_slot:
        taken = set()
        for m in members:
            t = prep.table[m]
            if t is not None:
                tables[m] = t
                taken.add(t)
        free = (t for t in prep.free_tables if t not in taken)
        for m in members:
            if prep.table[m] is None:
                tables[m] = next(free)
    return tables


def repair_fairness(state: State, deadline: float) -> int:
    """Bring participants over the fairness cap back under it by exchanges; returns how
    many exchanges were made.

    When capacity binds (more accepted requests than table-slots, as at large events),
    *which* meetings are placed is free up to their weight: dropping a meeting that
    splits an over-the-cap participant's day and placing, in the slot it frees, an
    unplaced meeting of the same weight keeps the placed weight and cuts the breaks. A
    plain move cannot do this when every slot is full.
    """
    prep = state.prep
    if prep.problem.fairness is None:
        return 0
    by_weight: dict[int, list[int]] = {}
    for m in range(len(prep.a)):
        if state.slot_of[m] == UNPLACED and not prep.forced[m]:
            by_weight.setdefault(prep.weight[m], []).append(m)
    exchanges = 0
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        cap = fairness_cap(state)
        assert cap is not None
        for p, mask in enumerate(state.busy):
            if mask_breaks(mask) <= cap or time.monotonic() >= deadline:
                continue
            if _exchange_for(state, p, cap, by_weight):
                exchanges += 1
                progress = True
    return exchanges


def _runs(mask: int) -> list[list[int]]:
    """Maximal runs of busy slots, in slot order."""
    runs: list[list[int]] = []
    s = 0
    while mask >> s:
        if mask >> s & 1:
            run = []
            while mask >> s & 1:
                run.append(s)
                s += 1
            runs.append(run)
        else:
            s += 1
    return runs


def _exchange_for(state: State, p: int, cap: int, by_weight: dict[int, list[int]]) -> bool:
    """Drop one whole run of p's day (a break goes with it) and fill each freed slot
    with an unplaced meeting of the same weight; all or nothing."""
    prep = state.prep
    breaks_p = mask_breaks(state.busy[p])
    slot_meeting = {
        state.slot_of[m]: m for m in prep.meetings_of[p] if state.slot_of[m] != UNPLACED
    }
    for run in sorted(_runs(state.busy[p]), key=len):
        dropped = [slot_meeting[s] for s in run]
        if any(prep.forced[m] for m in dropped):
            continue
        run_bits = sum(1 << s for s in run)
        if mask_breaks(state.busy[p] & ~run_bits) >= breaks_p:
            continue
        for m in dropped:
            state.remove(m)
        others = {prep.a[m] for m in dropped} | {prep.b[m] for m in dropped}
        if any(mask_breaks(state.busy[x]) > cap for x in others):
            for m, s in zip(dropped, run, strict=True):
                state.place(m, s)
            continue
        added: list[tuple[int, int]] = []  # (pool index, meeting)
        for m, s in zip(dropped, run, strict=True):
            pool = by_weight.get(prep.weight[m], [])
            bit = 1 << s
            for i, m2 in enumerate(pool):
                if m2 == UNPLACED or not state.can_place(m2, s):
                    continue
                if any(mask_breaks(state.busy[x] | bit) > cap for x in (prep.a[m2], prep.b[m2])):
                    continue
                state.place(m2, s)
                added.append((i, m2))
                pool[i] = UNPLACED  # taken; a tombstone keeps the other indices valid
                break
            else:
                break
        if len(added) == len(dropped):
            for m in dropped:
                by_weight.setdefault(prep.weight[m], []).append(m)
            return True
        for i, m2 in added:
            state.remove(m2)
            by_weight[prep.weight[m2]][i] = m2
        for m, s in zip(dropped, run, strict=True):
            state.place(m, s)
    return False


def enforce_cap(state: State, cap: int) -> bool:
    """Unplace meetings until nobody has more than `cap` breaks.

    Each step takes out the shortest run of an offender's day that holds no fixed or
    kept meeting (one break goes with it); partners who lose a meeting are looked at
    again. False when fixed or kept meetings alone exceed the cap.
    """
    prep = state.prep
    met = True
    changed = True
    while changed:
        changed = False
        for p in range(len(prep.meetings_of)):
            while mask_breaks(state.busy[p]) > cap:
                at = {
                    state.slot_of[m]: m for m in prep.meetings_of[p] if state.slot_of[m] != UNPLACED
                }
                runs = [r for r in _runs(state.busy[p]) if not any(prep.forced[at[s]] for s in r)]
                if not runs:
                    met = False
                    break
                for s in min(runs, key=len):
                    state.remove(at[s])
                changed = True
    return met


def insert_within_cap(state: State, cap: int | None, deadline: float) -> int:
    """Place unplaced meetings (heaviest first) where nobody goes above `cap` breaks,
    in the slot that adds the fewest breaks; returns how many were placed."""
    prep = state.prep
    placed = 0
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        waiting = sorted(
            (m for m in range(len(prep.a)) if state.slot_of[m] == UNPLACED and prep.allowed[m]),
            key=lambda m: -prep.weight[m],
        )
        for m in waiting:
            a, b = prep.a[m], prep.b[m]
            best: tuple[int, int] | None = None
            for s in prep.allowed[m]:
                if not state.can_place(m, s):
                    continue
                bit = 1 << s
                after_a = mask_breaks(state.busy[a] | bit)
                after_b = mask_breaks(state.busy[b] | bit)
                if cap is not None and (after_a > cap or after_b > cap):
                    continue
                delta = after_a + after_b - mask_breaks(state.busy[a]) - mask_breaks(state.busy[b])
                if best is None or delta < best[0]:
                    best = (delta, s)
            if best is not None:
                state.place(m, best[1])
                placed += 1
                progress = True
    return placed
