"""Data model of the B2B meeting scheduling problem and its input checks.

Numbering: slots and tables are 0-based here (slot 0 is the first of the day, table 0
the first table). File formats and the command line number from 1 and convert at
their edge. Participant and meeting ids are arbitrary integers chosen by the caller.

Malformed input (unknown or repeated ids, numbers out of range) raises SchedulingError.
Data that is well formed but cannot all hold (a fixed slot where a participant is away,
two fixed meetings of one participant in one slot, a precedence cycle, a meeting whose
participants share no free slot, a published meeting whose slot a participant has
since marked unavailable) is not refused: `prepare` takes the meetings concerned out
(or, for published ones, frees them to move) and records why, and the rest is
scheduled.

Precedence "q before m" binds when both are placed: q takes a strictly earlier slot.
If q cannot be placed, m may still be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FairnessMode = Literal["hard", "preference"]


class SchedulingError(ValueError):
    """The problem is malformed (bad references, numbers out of range...)."""


@dataclass(frozen=True, slots=True)
class Participant:
    id: int
    unavailable: frozenset[int] = frozenset()
    # A host sits at one table all day; nobody else uses that table.
    host: bool = False
    max_meetings: int | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    id: int
    a: int
    b: int
    weight: int = 1
    # None means any session.
    sessions: frozenset[int] | None = None
    fixed_slot: int | None = None
    fixed_table: int | None = None
    # Ids of meetings that must take a strictly earlier slot than this one.
    after: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class SchedulingProblem:
    n_slots: int
    # session_of_slot[s] is the session (0 = morning, 1 = afternoon, ...) of slot s.
    session_of_slot: tuple[int, ...]
    n_tables: int
    participants: tuple[Participant, ...]
    meetings: tuple[Meeting, ...]
    # Maximum difference of breaks between any two participants; None = no fairness.
    fairness: int | None = 2
    # "hard": never exceeded, fewer meetings are placed if need be; "preference": place
    # all that can be placed, then keep the spread as small as possible (at most d
    # when that is possible), then the breaks.
    fairness_mode: FairnessMode = "hard"


@dataclass(frozen=True, slots=True)
class Placement:
    meeting_id: int
    slot: int
    table: int


@dataclass(frozen=True, slots=True)
class Schedule:
    placements: tuple[Placement, ...]
    unplaced: tuple[int, ...]
    total_breaks: int
    breaks_by_participant: Mapping[int, int]
    placed_weight: int
    # Upper bound on the placed weight any schedule can reach.
    placed_weight_bound: int
    # Lower bound on total breaks among schedules placing `placed_weight` (None: unknown).
    breaks_bound: int | None
    # True when both the placed weight and the breaks are proven optimal.
    optimal: bool
    # Whether the spread of breaks is within the fairness limit d (True without d).
    fairness_met: bool
    seconds: float
    method: str
    extra: Mapping[str, float] = field(default_factory=dict)
    # Why each unplaced meeting is unplaced (meeting id -> reason).
    reasons: Mapping[int, str] = field(default_factory=dict)
    # Kept (published) meetings that could not stay where they were, and why; each is
    # placed elsewhere or unplaced like any other meeting.
    displaced: Mapping[int, str] = field(default_factory=dict)
    # Largest minus smallest number of breaks over the participants.
    spread: int = 0


@dataclass(frozen=True, slots=True)
class Prepared:
    """The problem in dense indices (meetings and participants by position).

    Everything the engines need, computed once: allowed slots per meeting (sessions,
    availability, fixed slot; empty for meetings taken out by a conflict), the fixed
    table per meeting (explicit, kept, or the host's table) and the tables left for
    meetings without a fixed table.
    """

    problem: SchedulingProblem
    n_slots: int
    a: tuple[int, ...]
    b: tuple[int, ...]
    weight: tuple[int, ...]
    allowed: tuple[tuple[int, ...], ...]
    table: tuple[int | None, ...]
    # predecessors[m]: indices of meetings that must come strictly before m.
    predecessors: tuple[tuple[int, ...], ...]
    # Fixed meetings (fixed slot, or kept where they were) must be placed.
    forced: tuple[bool, ...]
    max_meetings: tuple[int, ...]
    meetings_of: tuple[tuple[int, ...], ...]
    # Tables not reserved for hosts; fixed-table meetings outside hosts use some of them.
    free_tables: tuple[int, ...]
    participant_index: Mapping[int, int]
    meeting_index: Mapping[int, int]
    # Meetings taken out before any search (index -> reason); their allowed is empty.
    conflicts: Mapping[int, str] = field(default_factory=dict)
    # Kept meetings that may not stay (index -> reason); free to move.
    displaced: Mapping[int, str] = field(default_factory=dict)


def _check_shape(problem: SchedulingProblem) -> tuple[dict[int, int], dict[int, int]]:
    n_slots = problem.n_slots
    if n_slots <= 0:
        raise SchedulingError(f"n_slots must be positive, got {n_slots}")
    if len(problem.session_of_slot) != n_slots:
        raise SchedulingError(
            f"session_of_slot has {len(problem.session_of_slot)} entries for {n_slots} slots"
        )
    if any(problem.session_of_slot[s] > problem.session_of_slot[s + 1] for s in range(n_slots - 1)):
        raise SchedulingError("sessions must follow each other in slot order")
    if problem.n_tables <= 0:
        raise SchedulingError(f"n_tables must be positive, got {problem.n_tables}")
    if problem.fairness is not None and problem.fairness < 0:
        raise SchedulingError(f"fairness must be >= 0, got {problem.fairness}")
    if problem.fairness_mode not in ("hard", "preference"):
        raise SchedulingError(
            f"fairness_mode must be hard or preference, got {problem.fairness_mode!r}"
        )

    p_index: dict[int, int] = {}
    for i, p in enumerate(problem.participants):
        if p.id in p_index:
            raise SchedulingError(f"participant {p.id} appears twice")
        p_index[p.id] = i
        bad = [s for s in p.unavailable if not 0 <= s < n_slots]
        if bad:
            raise SchedulingError(f"participant {p.id}: unavailable slot {bad[0]} out of range")
        if p.max_meetings is not None and p.max_meetings < 0:
            raise SchedulingError(f"participant {p.id}: max_meetings must be >= 0")
    if sum(1 for p in problem.participants if p.host) > problem.n_tables:
        raise SchedulingError("more hosts than tables")

    m_index: dict[int, int] = {}
    for i, m in enumerate(problem.meetings):
        if m.id in m_index:
            raise SchedulingError(f"meeting {m.id} appears twice")
        m_index[m.id] = i
        if m.a == m.b:
            raise SchedulingError(f"meeting {m.id}: participant {m.a} meets itself")
        for who in (m.a, m.b):
            if who not in p_index:
                raise SchedulingError(f"meeting {m.id}: unknown participant {who}")
        if m.weight <= 0:
            raise SchedulingError(f"meeting {m.id}: weight must be positive")
        if m.fixed_slot is not None and not 0 <= m.fixed_slot < n_slots:
            raise SchedulingError(f"meeting {m.id}: fixed slot {m.fixed_slot} out of range")
        if m.fixed_table is not None and not 0 <= m.fixed_table < problem.n_tables:
            raise SchedulingError(f"meeting {m.id}: fixed table {m.fixed_table} out of range")
        if m.fixed_table is not None and m.fixed_slot is None:
            raise SchedulingError(f"meeting {m.id}: a fixed table needs a fixed slot")
    for m in problem.meetings:
        for other in m.after:
            if other not in m_index:
                raise SchedulingError(f"meeting {m.id}: precedence on unknown meeting {other}")
    return p_index, m_index


def _slot_reason(
    problem: SchedulingProblem, meeting: Meeting, slot: int, parts: dict[int, Participant]
) -> str | None:
    """Why `meeting` cannot take `slot` on its own terms (None: it can)."""
    if meeting.sessions is not None and problem.session_of_slot[slot] not in meeting.sessions:
        return f"slot {slot + 1} is outside its sessions"
    for who in (meeting.a, meeting.b):
        if slot in parts[who].unavailable:
            return f"participant {who} is unavailable in slot {slot + 1}"
    return None


def prepare(problem: SchedulingProblem, keep: tuple[Placement, ...] = ()) -> Prepared:
    """Check the problem and turn it into dense indices, conflicts taken out with reasons.

    Raises SchedulingError for malformed input only.
    """
    p_index, m_index = _check_shape(problem)
    n_slots = problem.n_slots
    meetings = problem.meetings
    parts = problem.participants
    by_id = {p.id: p for p in parts}
    n = len(meetings)
    conflicts: dict[int, str] = {}
    displaced: dict[int, str] = {}

    # Kept placements of meetings that no longer exist (cancelled) are simply dropped;
    # a kept one that no longer fits its meeting is displaced (free to move).
    kept: dict[int, Placement] = {}
    for pl in keep:
        i = m_index.get(pl.meeting_id)
        if i is None:
            continue
        m = meetings[i]
        if not 0 <= pl.slot < n_slots:
            displaced[i] = f"its slot {pl.slot + 1} no longer exists"
        elif not 0 <= pl.table < problem.n_tables:
            displaced[i] = f"its table {pl.table + 1} no longer exists"
        elif m.fixed_slot is not None and m.fixed_slot != pl.slot:
            displaced[i] = f"it is now fixed to slot {m.fixed_slot + 1}"
        elif m.fixed_table is not None and m.fixed_table != pl.table:
            displaced[i] = f"it is now fixed to table {m.fixed_table + 1}"
        elif (reason := _slot_reason(problem, m, pl.slot, by_id)) is not None:
            displaced[i] = reason
        else:
            kept[i] = pl

    # Host tables: from a kept or fixed table of one of the host's meetings (kept ones
    # first), else the lowest table nobody has fixed.
    host_table: dict[int, int] = {}
    for i, m in enumerate(meetings):
        hosts = [w for w in (m.a, m.b) if by_id[w].host]
        if len(hosts) == 2:
            conflicts[i] = f"both participants ({m.a}, {m.b}) are hosts, each keeps its own table"
    pinned: list[tuple[int, int]] = [(i, pl.table) for i, pl in kept.items()]
    pinned += [
        (i, m.fixed_table)
        for i, m in enumerate(meetings)
        if m.fixed_table is not None and i not in kept
    ]
    taken_by: dict[int, int] = {}
    for i, t in pinned:
        if i in conflicts:
            continue
        m = meetings[i]
        host = next((w for w in (m.a, m.b) if by_id[w].host), None)
        if host is None or host in host_table:
            continue
        if t in taken_by:
            continue
        host_table[host] = t
        taken_by[t] = host
    fixed_elsewhere = {t for i, t in pinned if t not in taken_by}
    candidates = (
        t for t in range(problem.n_tables) if t not in taken_by and t not in fixed_elsewhere
    )
    for p in parts:
        if p.host and p.id not in host_table:
            t_next = next(candidates, None)
            if t_next is None:
                # Every table is pinned by some meeting: take one that no host holds.
                t_next = min(t for t in range(problem.n_tables) if t not in taken_by)
            host_table[p.id] = t_next
            taken_by[t_next] = p.id
    host_tables = set(host_table.values())

    table: list[int | None] = []
    for i, m in enumerate(meetings):
        host = next((w for w in (m.a, m.b) if w in host_table), None)
        pin = kept[i].table if i in kept else m.fixed_table
        if i in conflicts:
            table.append(None)
        elif host is not None:
            if pin is not None and pin != host_table[host]:
                if i in kept:
                    del kept[i]
                    displaced[i] = f"host {host} keeps table {host_table[host] + 1}"
                else:
                    conflicts[i] = (
                        f"fixed to table {pin + 1}, but host {host} keeps table "
                        f"{host_table[host] + 1}"
                    )
            table.append(host_table[host])
        elif pin is not None and pin in host_tables:
            if i in kept:
                del kept[i]
                displaced[i] = f"table {pin + 1} is now host {taken_by[pin]}'s"
                table.append(None)
            else:
                conflicts[i] = f"its fixed table {pin + 1} is reserved for host {taken_by[pin]}"
                table.append(None)
        else:
            table.append(pin)

    fixed_slot: list[int | None] = [m.fixed_slot for m in meetings]
    for i, pl in kept.items():
        fixed_slot[i] = pl.slot
    n_sessions = max(problem.session_of_slot) + 1

    def open_slots(m: Meeting, only: int | None) -> tuple[int, ...]:
        sessions = m.sessions if m.sessions is not None else frozenset(range(n_sessions))
        blocked = by_id[m.a].unavailable | by_id[m.b].unavailable
        return tuple(
            s
            for s in range(n_slots)
            if problem.session_of_slot[s] in sessions
            and s not in blocked
            and (only is None or s == only)
        )

    allowed: list[tuple[int, ...]] = []
    for i, m in enumerate(meetings):
        if i in conflicts:
            allowed.append(())
            continue
        slots = open_slots(m, fixed_slot[i])
        if not slots:
            fs = fixed_slot[i]
            if fs is not None:
                cause = _slot_reason(problem, m, fs, by_id) or "it cannot take it"
                conflicts[i] = f"fixed to slot {fs + 1}, but {cause}"
            else:
                conflicts[i] = "no slot in its sessions where both participants are available"
        allowed.append(slots)

    predecessors: list[tuple[int, ...]] = [
        tuple(sorted(m_index[q] for q in m.after)) for m in meetings
    ]
    successors: list[list[int]] = [[] for _ in meetings]
    for i, preds in enumerate(predecessors):
        for q in preds:
            successors[q].append(i)

    meetings_of: list[list[int]] = [[] for _ in parts]
    for i, m in enumerate(meetings):
        meetings_of[p_index[m.a]].append(i)
        meetings_of[p_index[m.b]].append(i)
    max_meetings = tuple(
        len(meetings_of[i]) if p.max_meetings is None else min(p.max_meetings, len(meetings_of[i]))
        for i, p in enumerate(parts)
    )
    free_tables = tuple(t for t in range(problem.n_tables) if t not in host_tables)

    # Fixed and kept meetings must be placed: accept them one by one (kept first, then
    # heavier, then by id) while they stay compatible with those accepted.
    forced = [i not in conflicts and fixed_slot[i] is not None for i in range(n)]
    a_of = [p_index[m.a] for m in meetings]
    b_of = [p_index[m.b] for m in meetings]
    order = sorted(
        (i for i in range(n) if forced[i]),
        key=lambda i: (i not in kept, -meetings[i].weight, meetings[i].id),
    )
    free_set = set(free_tables)
    who_at: dict[tuple[int, int], int] = {}
    table_at: dict[tuple[int, int], int] = {}
    free_used = [0] * n_slots
    count = [0] * len(parts)
    accepted_slot: dict[int, int] = {}
    for i in order:
        s = allowed[i][0]
        clash = next((who_at[(w, s)] for w in (a_of[i], b_of[i]) if (w, s) in who_at), None)
        tab = table[i]
        uses_free = tab is None or tab in free_set
        why: str | None = None
        if clash is not None:
            why = f"it clashes with fixed meeting {meetings[clash].id} in slot {s + 1}"
        elif tab is not None and (s, tab) in table_at:
            other = meetings[table_at[(s, tab)]].id
            why = f"table {tab + 1} is taken by meeting {other} in slot {s + 1}"
        elif uses_free and free_used[s] >= len(free_tables):
            why = f"every table is taken by fixed meetings in slot {s + 1}"
        elif any(count[w] >= max_meetings[w] for w in (a_of[i], b_of[i])):
            full = next(w for w in (a_of[i], b_of[i]) if count[w] >= max_meetings[w])
            why = f"participant {parts[full].id} has reached its maximum of meetings"
        else:
            late = next(
                (q for q in predecessors[i] if q in accepted_slot and accepted_slot[q] >= s), None
            )
            succ = next(
                (r for r in successors[i] if r in accepted_slot and accepted_slot[r] <= s), None
            )
            if late is not None:
                why = f"fixed meeting {meetings[late].id} must come before it but is not earlier"
            elif succ is not None:
                why = f"it must come before fixed meeting {meetings[succ].id} but is not earlier"
        if why is not None:
            forced[i] = False
            if i in kept and meetings[i].fixed_slot is None:
                # A published meeting that can no longer stay is free to move.
                del kept[i]
                displaced[i] = why
                fixed_slot[i] = None
                allowed[i] = open_slots(meetings[i], None)
                if not any(by_id[w].host for w in (meetings[i].a, meetings[i].b)):
                    table[i] = meetings[i].fixed_table
                if not allowed[i]:
                    conflicts[i] = "no slot in its sessions where both participants are available"
                continue
            kept.pop(i, None)
            conflicts[i] = why
            allowed[i] = ()
            continue
        accepted_slot[i] = s
        for w in (a_of[i], b_of[i]):
            who_at[(w, s)] = i
            count[w] += 1
        if tab is not None:
            table_at[(s, tab)] = i
        if uses_free:
            free_used[s] += 1

    # Predecessors and successors of fixed meetings must keep to their side of them.
    if accepted_slot and any(predecessors):
        for i in range(n):
            if forced[i] or not allowed[i] or i in conflicts:
                continue
            low = max((accepted_slot[q] for q in predecessors[i] if q in accepted_slot), default=-1)
            high = min(
                (accepted_slot[r] for r in successors[i] if r in accepted_slot), default=n_slots
            )
            narrowed = tuple(s for s in allowed[i] if low < s < high)
            if narrowed != allowed[i]:
                allowed[i] = narrowed
                if not narrowed:
                    conflicts[i] = "no slot between the fixed meetings it must follow and precede"

    _break_cycles(predecessors, allowed, forced, meetings, conflicts)

    return Prepared(
        problem=problem,
        n_slots=n_slots,
        a=tuple(a_of),
        b=tuple(b_of),
        weight=tuple(m.weight for m in meetings),
        allowed=tuple(() if i in conflicts else allowed[i] for i in range(n)),
        table=tuple(table),
        predecessors=tuple(predecessors),
        forced=tuple(forced[i] and i not in conflicts for i in range(n)),
        max_meetings=max_meetings,
        meetings_of=tuple(tuple(x) for x in meetings_of),
        free_tables=free_tables,
        participant_index=p_index,
        meeting_index=m_index,
        conflicts=conflicts,
        displaced=displaced,
    )


def _break_cycles(
    predecessors: list[tuple[int, ...]],
    allowed: list[tuple[int, ...]],
    forced: list[bool],
    meetings: tuple[Meeting, ...],
    conflicts: dict[int, str],
) -> None:
    """Take meetings out of precedence cycles until none is left.

    Not every meeting of a cycle can be placed (each would need a slot before itself);
    one per cycle must go. Within a strongly connected group, the one taken out is
    the lightest non-fixed meeting with the most precedences inside the group.
    """
    while True:
        live = [bool(allowed[i]) and i not in conflicts for i in range(len(meetings))]
        groups = [
            g
            for g in _strong_components(predecessors, live)
            if len(g) > 1 or _self_loop(g, predecessors)
        ]
        if not groups:
            return
        for group in groups:
            inside = set(group)
            degree = {
                i: sum(1 for q in predecessors[i] if q in inside)
                + sum(1 for r in inside if i in predecessors[r])
                for i in group
            }
            victim = min(
                group, key=lambda i: (forced[i], meetings[i].weight, -degree[i], -meetings[i].id)
            )
            ids = sorted(meetings[i].id for i in group)
            shown = ", ".join(str(x) for x in ids[:6]) + (", ..." if len(ids) > 6 else "")
            conflicts[victim] = f"precedence cycle among meetings {shown}"
            forced[victim] = False


def _self_loop(group: list[int], predecessors: list[tuple[int, ...]]) -> bool:
    return len(group) == 1 and group[0] in predecessors[group[0]]


def _strong_components(predecessors: list[tuple[int, ...]], live: list[bool]) -> list[list[int]]:
    """Tarjan's algorithm, iterative, over edges q -> m for q in predecessors[m]."""
    n = len(predecessors)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if not live[root] or index[root] >= 0:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            node, k = work[-1]
            if k == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            edges = predecessors[node]
            if k < len(edges):
                work[-1] = (node, k + 1)
                nxt = edges[k]
                if not live[nxt]:
                    continue
                if index[nxt] < 0:
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    group.append(w)
                    if w == node:
                        break
                out.append(group)
    return out
