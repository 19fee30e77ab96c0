"""Data model of the B2B meeting scheduling problem and its input checks.

Numbering: slots and tables are 0-based here (slot 0 is the first of the day, table 0
the first table). File formats and the command line number from 1 and convert at
their edge. Participant and meeting ids are arbitrary integers chosen by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class SchedulingError(ValueError):
    """The problem is inconsistent (bad references, impossible fixed data, cycles...)."""


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
    # False when the fairness limit could not be met without placing fewer meetings.
    fairness_met: bool
    seconds: float
    method: str
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The problem in dense indices (meetings and participants by position).

    Everything the engines need, computed once: allowed slots per meeting (sessions,
    availability, fixed slot), the fixed table per meeting (explicit, kept, or the
    host's table) and the number of tables left for meetings without a fixed table.
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
    # Fixed meetings (fixed slot or kept) must be placed.
    forced: tuple[bool, ...]
    max_meetings: tuple[int, ...]
    meetings_of: tuple[tuple[int, ...], ...]
    # Tables not reserved for hosts; fixed-table meetings outside hosts use some of them.
    free_tables: tuple[int, ...]
    participant_index: Mapping[int, int]
    meeting_index: Mapping[int, int]


def prepare(problem: SchedulingProblem, keep: tuple[Placement, ...] = ()) -> Prepared:
    """Check the problem and turn it into dense indices; raise SchedulingError."""
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

    # Kept placements of meetings that no longer exist (cancelled) are simply dropped.
    kept: dict[int, Placement] = {}
    for pl in keep:
        if pl.meeting_id not in m_index:
            continue
        if not 0 <= pl.slot < n_slots or not 0 <= pl.table < problem.n_tables:
            raise SchedulingError(f"kept meeting {pl.meeting_id}: slot or table out of range")
        kept[m_index[pl.meeting_id]] = pl

    meetings = problem.meetings
    fixed_slot: list[int | None] = [m.fixed_slot for m in meetings]
    fixed_table: list[int | None] = [m.fixed_table for m in meetings]
    for i, pl in kept.items():
        fixed_slot[i] = pl.slot
        fixed_table[i] = pl.table

    # Host tables: taken from a fixed/kept table of one of its meetings, else the lowest
    # table nobody has fixed.
    parts = problem.participants
    host_table: dict[int, int] = {}
    for i, m in enumerate(meetings):
        hosts = [who for who in (m.a, m.b) if parts[p_index[who]].host]
        if len(hosts) == 2:
            raise SchedulingError(f"meeting {m.id}: two hosts cannot share one table")
        if hosts and fixed_table[i] is not None:
            t = fixed_table[i]
            assert t is not None
            if host_table.setdefault(hosts[0], t) != t:
                raise SchedulingError(f"host {hosts[0]}: meetings fixed at different tables")
    used = set(host_table.values())
    if len(used) != len(host_table):
        raise SchedulingError("two hosts are fixed to the same table")
    fixed_elsewhere = {t for t in fixed_table if t is not None} - used
    candidates = (t for t in range(problem.n_tables) if t not in used | fixed_elsewhere)
    for p in parts:
        if p.host and p.id not in host_table:
            t_next = next(candidates, None)
            if t_next is None:
                raise SchedulingError("more hosts than tables")
            host_table[p.id] = t_next
    host_tables = set(host_table.values())

    table: list[int | None] = []
    for i, m in enumerate(meetings):
        host = next((w for w in (m.a, m.b) if w in host_table), None)
        if host is not None:
            table.append(host_table[host])
        else:
            t = fixed_table[i]
            if t is not None and t in host_tables:
                raise SchedulingError(f"meeting {m.id}: table {t} is reserved for a host")
            table.append(t)

    n_sessions = max(problem.session_of_slot) + 1
    allowed: list[tuple[int, ...]] = []
    for i, m in enumerate(meetings):
        sessions = m.sessions if m.sessions is not None else frozenset(range(n_sessions))
        blocked = parts[p_index[m.a]].unavailable | parts[p_index[m.b]].unavailable
        slots = tuple(
            s
            for s in range(n_slots)
            if problem.session_of_slot[s] in sessions
            and s not in blocked
            and (fixed_slot[i] is None or s == fixed_slot[i])
        )
        if fixed_slot[i] is not None and not slots:
            raise SchedulingError(
                f"meeting {m.id}: fixed slot {fixed_slot[i]} is outside its sessions "
                "or a participant is unavailable then"
            )
        allowed.append(slots)

    predecessors: list[tuple[int, ...]] = []
    for m in meetings:
        preds = []
        for other in m.after:
            if other not in m_index:
                raise SchedulingError(f"meeting {m.id}: precedence on unknown meeting {other}")
            preds.append(m_index[other])
        predecessors.append(tuple(sorted(preds)))
    _check_acyclic(predecessors, meetings)

    meetings_of: list[list[int]] = [[] for _ in parts]
    for i, m in enumerate(meetings):
        meetings_of[p_index[m.a]].append(i)
        meetings_of[p_index[m.b]].append(i)
    max_meetings = tuple(
        len(meetings_of[i]) if p.max_meetings is None else min(p.max_meetings, len(meetings_of[i]))
        for i, p in enumerate(parts)
    )

    return Prepared(
        problem=problem,
        n_slots=n_slots,
        a=tuple(p_index[m.a] for m in meetings),
        b=tuple(p_index[m.b] for m in meetings),
        weight=tuple(m.weight for m in meetings),
        allowed=tuple(allowed),
        table=tuple(table),
        predecessors=tuple(predecessors),
        forced=tuple(s is not None for s in fixed_slot),
        max_meetings=max_meetings,
        meetings_of=tuple(tuple(x) for x in meetings_of),
        free_tables=tuple(t for t in range(problem.n_tables) if t not in host_tables),
        participant_index=p_index,
        meeting_index=m_index,
    )


def _check_acyclic(predecessors: list[tuple[int, ...]], meetings: tuple[Meeting, ...]) -> None:
    # Iterative DFS with colours: 0 unseen, 1 on the stack, 2 done.
    colour = [0] * len(predecessors)
    for root in range(len(predecessors)):
        if colour[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        colour[root] = 1
        while stack:
            node, k = stack[-1]
            if k < len(predecessors[node]):
                stack[-1] = (node, k + 1)
                nxt = predecessors[node][k]
                if colour[nxt] == 1:
                    raise SchedulingError(f"precedence cycle through meeting {meetings[nxt].id}")
                if colour[nxt] == 0:
                    colour[nxt] = 1
                    stack.append((nxt, 0))
            else:
                colour[node] = 2
                stack.pop()
