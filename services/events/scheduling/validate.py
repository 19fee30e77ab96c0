"""The one check every engine's schedule passes before it leaves the scheduler.

It reads the problem as the caller gave it (not the engines' prepared form, which it
only uses for the conflicts and kept meetings `prepare` decided on), so a slip in the
preparation shows here too. A violation is a bug in an engine: the scheduler drops
that engine's schedule, counts it (Schedule.extra["rejected"]) and tests fail on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.events.scheduling.breaks import breaks_of
from services.events.scheduling.model import Prepared

UNPLACED = -1


def violations(
    prep: Prepared, slot_of: Sequence[int], table_of: Sequence[int] | None = None
) -> list[str]:
    """Hard constraints that `slot_of` (and `table_of`, when given) break; [] if none.

    Fairness is not checked here: whether it is a hard limit is the caller's choice
    (see `fairness_violation`).
    """
    problem = prep.problem
    meetings = problem.meetings
    parts = problem.participants
    out: list[str] = []
    if len(slot_of) != len(meetings):
        return [f"{len(slot_of)} slots for {len(meetings)} meetings"]
    by_id = {p.id: p for p in parts}
    index = prep.meeting_index
    busy: dict[tuple[int, int], int] = {}
    per_slot = [0] * problem.n_slots
    count: dict[int, int] = {}
    tables_of_host: dict[int, set[int]] = {}
    at_table: dict[tuple[int, int], int] = {}
    for i, m in enumerate(meetings):
        s = slot_of[i]
        if s == UNPLACED:
            if prep.forced[i]:
                out.append(f"meeting {m.id} is fixed or kept but unplaced")
            continue
        if not 0 <= s < problem.n_slots:
            out.append(f"meeting {m.id}: slot {s} out of range")
            continue
        if i in prep.conflicts:
            out.append(f"meeting {m.id} was taken out ({prep.conflicts[i]}) but is placed")
        elif s not in prep.allowed[i]:
            out.append(f"meeting {m.id}: slot {s} is not one of its allowed (or kept) slots")
        if m.sessions is not None and problem.session_of_slot[s] not in m.sessions:
            out.append(f"meeting {m.id}: slot {s} outside its sessions")
        if m.fixed_slot is not None and s != m.fixed_slot:
            out.append(f"meeting {m.id}: fixed to slot {m.fixed_slot}, placed in {s}")
        for who in (m.a, m.b):
            if s in by_id[who].unavailable:
                out.append(f"meeting {m.id}: participant {who} unavailable in slot {s}")
            if (who, s) in busy:
                out.append(
                    f"participant {who} in meetings {meetings[busy[(who, s)]].id} and {m.id} "
                    f"in slot {s}"
                )
            busy[(who, s)] = i
            count[who] = count.get(who, 0) + 1
        per_slot[s] += 1
        for q_id in m.after:
            q = index[q_id]
            if slot_of[q] != UNPLACED and slot_of[q] >= s:
                out.append(f"meeting {q_id} must come before meeting {m.id}")
        if table_of is not None:
            t = table_of[i]
            if not 0 <= t < problem.n_tables:
                out.append(f"meeting {m.id}: table {t} out of range")
                continue
            if (s, t) in at_table:
                out.append(f"table {t} holds meetings {meetings[at_table[(s, t)]].id} and {m.id}")
            at_table[(s, t)] = i
            if m.fixed_table is not None and t != m.fixed_table and i not in prep.displaced:
                out.append(f"meeting {m.id}: fixed to table {m.fixed_table}, placed at {t}")
            for who in (m.a, m.b):
                if by_id[who].host:
                    tables_of_host.setdefault(who, set()).add(t)
    for s, k in enumerate(per_slot):
        if k > problem.n_tables:
            out.append(f"slot {s} holds {k} meetings for {problem.n_tables} tables")
    for p in parts:
        if p.max_meetings is not None and count.get(p.id, 0) > p.max_meetings:
            out.append(f"participant {p.id} has {count[p.id]} meetings, maximum {p.max_meetings}")
    if table_of is not None:
        host_at: dict[int, int] = {}
        for who, tables in tables_of_host.items():
            if len(tables) > 1:
                out.append(f"host {who} moves between tables {sorted(tables)}")
            for t in tables:
                host_at[t] = who
        for i, m in enumerate(meetings):
            s = slot_of[i]
            if s == UNPLACED:
                continue
            owner = host_at.get(table_of[i])
            if owner is not None and owner not in (m.a, m.b):
                out.append(f"meeting {m.id} sits at host {owner}'s table {table_of[i]}")
        for i in range(len(meetings)):
            pinned = prep.table[i]
            if (
                prep.forced[i]
                and pinned is not None
                and slot_of[i] != UNPLACED
                and table_of[i] != pinned
            ):
                out.append(f"meeting {meetings[i].id}: kept or fixed table moved")
    return out


def spread_of(prep: Prepared, slot_of: Sequence[int]) -> tuple[int, int]:
    """(total breaks, largest minus smallest breaks over all participants)."""
    slots: list[list[int]] = [[] for _ in prep.meetings_of]
    for i, s in enumerate(slot_of):
        if s != UNPLACED:
            slots[prep.a[i]].append(s)
            slots[prep.b[i]].append(s)
    per = [breaks_of(x) for x in slots]
    return sum(per), (max(per) - min(per)) if per else 0
