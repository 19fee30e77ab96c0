"""Independent checker of B2B schedules: every hard constraint, breaks recomputed.

Written from the problem statement only; it shares the data classes with the
scheduler but none of its logic. Slots and tables are 0-based as in the scheduler.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

from services.events.scheduling.solve import Meeting, Placement, Schedule, SchedulingProblem


def participant_breaks(slots: list[int]) -> int:
    """Idle runs between two meetings; the day is one timeline (lunch is no slot)."""
    busy = sorted(slots)
    count = 0
    for earlier, later in pairwise(busy):
        if later - earlier > 1:
            count += 1
    return count


def validate(
    problem: SchedulingProblem, schedule: Schedule, keep: Sequence[Placement] = ()
) -> list[str]:
    """All violations found; an empty list means the schedule is valid."""
    errors: list[str] = []
    meetings = {m.id: m for m in problem.meetings}
    people = {p.id: p for p in problem.participants}
    seen: set[int] = set()
    for pl in schedule.placements:
        if pl.meeting_id not in meetings:
            errors.append(f"unknown meeting {pl.meeting_id} placed")
        if pl.meeting_id in seen:
            errors.append(f"meeting {pl.meeting_id} placed twice")
        seen.add(pl.meeting_id)
        if not 0 <= pl.slot < problem.n_slots:
            errors.append(f"meeting {pl.meeting_id}: slot {pl.slot} out of range")
        if not 0 <= pl.table < problem.n_tables:
            errors.append(f"meeting {pl.meeting_id}: table {pl.table} out of range")
    if errors:
        return errors
    if set(schedule.unplaced) & seen:
        errors.append("a meeting is both placed and unplaced")
    if seen | set(schedule.unplaced) != set(meetings):
        errors.append("placed and unplaced do not cover the meetings exactly")

    where = {pl.meeting_id: pl for pl in schedule.placements}
    per_person_slot: dict[tuple[int, int], int] = defaultdict(int)
    per_table_slot: dict[tuple[int, int], int] = defaultdict(int)
    per_slot: dict[int, int] = defaultdict(int)
    slots_of: dict[int, list[int]] = defaultdict(list)
    tables_of: dict[int, set[int]] = defaultdict(set)
    for mid, pl in where.items():
        m = meetings[mid]
        per_slot[pl.slot] += 1
        per_table_slot[(pl.slot, pl.table)] += 1
        for who in (m.a, m.b):
            per_person_slot[(who, pl.slot)] += 1
            slots_of[who].append(pl.slot)
            tables_of[who].add(pl.table)
            if pl.slot in people[who].unavailable:
                errors.append(f"meeting {mid}: participant {who} unavailable in slot {pl.slot}")
        if m.sessions is not None and problem.session_of_slot[pl.slot] not in m.sessions:
            errors.append(f"meeting {mid}: slot {pl.slot} outside its sessions")
        if m.fixed_slot is not None and pl.slot != m.fixed_slot:
            errors.append(f"meeting {mid}: fixed to slot {m.fixed_slot}, got {pl.slot}")
        if m.fixed_table is not None and pl.table != m.fixed_table:
            errors.append(f"meeting {mid}: fixed to table {m.fixed_table}, got {pl.table}")
        for before in m.after:
            if before in where and where[before].slot >= pl.slot:
                errors.append(f"meeting {before} must come before meeting {mid}")
    for m in problem.meetings:
        if m.fixed_slot is not None and m.id not in where:
            if m.id not in schedule.reasons:
                errors.append(f"fixed meeting {m.id} not placed, and no reason given")
            elif not _fixed_cannot_hold(problem, m, where):
                errors.append(f"fixed meeting {m.id} not placed, but nothing prevents it")
    for mid in schedule.unplaced:
        if not schedule.reasons.get(mid):
            errors.append(f"unplaced meeting {mid} has no reason")
    for (who, slot), n in per_person_slot.items():
        if n > 1:
            errors.append(f"participant {who} has {n} meetings in slot {slot}")
    for (slot, table), n in per_table_slot.items():
        if n > 1:
            errors.append(f"table {table} used {n} times in slot {slot}")
    for slot, n in per_slot.items():
        if n > problem.n_tables:
            errors.append(f"slot {slot} holds {n} meetings for {problem.n_tables} tables")
    for p in problem.participants:
        if p.max_meetings is not None and len(slots_of[p.id]) > p.max_meetings:
            errors.append(f"participant {p.id} above its maximum of meetings")
        if p.host and len(tables_of[p.id]) > 1:
            errors.append(f"host {p.id} moves between tables {sorted(tables_of[p.id])}")
    host_tables = {
        next(iter(tables_of[p.id])): p.id
        for p in problem.participants
        if p.host and len(tables_of[p.id]) == 1
    }
    for mid, pl in where.items():
        owner = host_tables.get(pl.table)
        if owner is not None and owner not in (meetings[mid].a, meetings[mid].b):
            errors.append(f"meeting {mid} sits at host {owner}'s table {pl.table}")
    for pl in keep:
        if pl.meeting_id in meetings and where.get(pl.meeting_id) != pl:
            errors.append(f"kept meeting {pl.meeting_id} moved or dropped")

    breaks = {p.id: participant_breaks(slots_of[p.id]) for p in problem.participants}
    if dict(schedule.breaks_by_participant) != breaks:
        errors.append("breaks_by_participant differs from the recomputed breaks")
    if schedule.total_breaks != sum(breaks.values()):
        errors.append(f"total_breaks {schedule.total_breaks} != {sum(breaks.values())}")
    weight = sum(meetings[mid].weight for mid in where)
    if schedule.placed_weight != weight:
        errors.append(f"placed_weight {schedule.placed_weight} != {weight}")
    if schedule.placed_weight_bound < weight:
        errors.append("placed weight above its claimed upper bound")
    if schedule.breaks_bound is not None and schedule.breaks_bound > schedule.total_breaks:
        errors.append("total breaks below the claimed lower bound")
    spread = max(breaks.values(), default=0) - min(breaks.values(), default=0)
    if problem.fairness is not None and schedule.fairness_met and spread > problem.fairness:
        errors.append(f"fairness claimed but breaks spread is {spread}")
    return errors


def _fixed_cannot_hold(problem: SchedulingProblem, m: Meeting, where: dict[int, Placement]) -> bool:
    """Whether the fixed meeting m cannot be placed whatever else is placed: its slot
    is outside its sessions or a participant is away then, another placed fixed meeting
    takes one of its participants (or all tables) in that slot, the order forbids it
    against a placed fixed meeting, or it is on a precedence cycle."""
    s = m.fixed_slot
    assert s is not None
    people = {p.id: p for p in problem.participants}
    if m.sessions is not None and problem.session_of_slot[s] not in m.sessions:
        return True
    if any(s in people[who].unavailable for who in (m.a, m.b)):
        return True
    meetings = {x.id: x for x in problem.meetings}
    fixed_there = [
        meetings[i] for i, pl in where.items() if meetings[i].fixed_slot == s and pl.slot == s
    ]
    if any({x.a, x.b} & {m.a, m.b} for x in fixed_there) or len(fixed_there) >= problem.n_tables:
        return True
    for i, pl in where.items():
        other = meetings[i]
        if other.fixed_slot is None:
            continue
        if (i in m.after and pl.slot >= s) or (m.id in other.after and pl.slot <= s):
            return True
    # On a cycle: m is reachable from itself through "must come after".
    seen: set[int] = set()
    todo = list(m.after)
    while todo:
        q = todo.pop()
        if q == m.id:
            return True
        if q not in seen and q in meetings:
            seen.add(q)
            todo.extend(meetings[q].after)
    return False
