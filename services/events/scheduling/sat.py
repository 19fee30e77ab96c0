"""SAT encoding of the slot assignment and the bottom-up search on CaDiCaL.

The encoding follows Bofill et al. (JAIR 2022), model "imp12+", searched bottom-up
(cost <= floor, floor + 1, ... under assumptions; the first satisfiable bound is the
proven optimum):

- x[m,s] for each allowed slot s of meeting m; exactly one per meeting when every
  meeting must be placed, else at most one and placed[m] <-> OR x[m,.];
- busy[p,s] <-> OR of p's x in slot s, with at most one of them;
- capacity per slot over *clusters* of meetings that share a participant (at most one
  of a cluster can take a slot, so the cluster is one 0/1 term), not over raw x;
- implied (imp1): p is busy in exactly k_p slots (a cardinality network), when every
  meeting is placed;
- implied (imp2): per slot the busy participants are at most 2 x tables (optionally
  also even in number and, on a tight day, at least the minimum: Options.parity);
- implied: per session, a participant is busy there at least as often as it has
  meetings that can only take that session, and at most k_p minus the meetings that
  cannot (a Hall bound unit propagation does not find);
- breaks: seen[p,s] = busy at or before s; end[p,s] <-> not busy at s, seen at s,
  busy at s+1: the end of a run of idle slots between two meetings (the day is one
  timeline, see scheduling.breaks); per participant at least the breaks its own
  meetings force (own_breaks: a matching over candidate sets of busy slots);
- fairness: breaks of every two participants differ by at most d, as lo <= b_p <=
  lo + d with lo a unary variable (when some participant cannot have a break, lo = 0
  and this is "at most d each");
- precedences: m in slot s excludes q (that must come before m) at s or later.

Objective literals (end[p,s], and not placed[m] with its weight) feed totalizers whose
outputs the search assumes false: "at most b breaks" is the assumption not rhs[b].
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from pysat.card import CardEnc, EncType, ITotalizer
from pysat.solvers import Solver

from services.events.scheduling.model import Prepared

UNPLACED = -1
SOLVER = "cadical195"
# Seconds per slice of a search call (see _Search.minimise), turned into a conflict
# budget at the rate measured so far (1,500 to 20,000 conflicts per second here).
SLICE = 0.5
# Seconds of the first call of a portfolio process on a bound before it looks at the
# other's bounds; each further call on the same bound gets twice the last one's time.
# Every new call restarts CaDiCaL's search: in fixed slices of one second the call at
# the optimum of ticf-13crafb took about a quarter more conflicts, and forum-13crafb
# and ticf-13crafb reached their optima in 4 of 20 runs, against 10 of 20 growing
# (seeds 0-9 of bench/b2b.py each). Only while another process shares real bounds
# (Shared.others): with nothing to read, one call runs on (14 of 24 in-process runs
# of the two at their optimum within 9.3 s sliced, 20 of 24 not).
PORTFOLIO_SLICE = 1.0
# Caps per participant (see _Search.caps) only up to this slack: higher ones slowed
# forum-13crafb down several times over.
MAX_SLACK = 0
# Above this many terms x bound a cardinality constraint takes another encoding (or,
# for the implied busy counts, is left out): a 500-participant event otherwise needs
# millions of clauses and seconds to build them.
LARGE_CARD = 10_000
# CaDiCaL options (name -> value) set on every solver; none of "elim", "stabilize",
# "stabilizeonly", "chrono" helped on the hard instances (one run each, 7 instances).
CADICAL_OPTIONS: dict[str, int] = {}
# At most one by pairwise clauses up to this many literals, a ladder above (pairwise
# everywhere was slower: 373 s against 12 s on tic-13crafc before the pigeonhole fix).
AMO_PAIRWISE = 6
CAPACITY_ENC = EncType.seqcounter
# Clauses (about participants x slots^2) the start literals may take: on a large event
# they would outweigh the rest of the formula.
START_CLAUSES = 200_000
# imp1 as a cardinality network, as in the paper.
IMP1_ENC = EncType.cardnetwrk


@dataclass(frozen=True, slots=True)
class Options:
    """Which parts of the encoding to build (the rest are for measuring them)."""

    # Every meeting must be placed (the exact-k implied constraints hold).
    all_placed: bool = True
    session_count: bool = True
    clusters: bool = True
    imp2: bool = True
    # imp2 with the even count and the tight-day minimum, not only the maximum: no
    # gain measured on the B2B instances (7 instances x 2 seeds), so off.
    parity: bool = False
    # Start literals for participants without a break (see Encoding._starts).
    starts: bool = True


class Encoding:
    """The clauses and the literals the search needs; variables count from 1."""

    def __init__(self, prep: Prepared, options: Options) -> None:
        self.prep = prep
        self.options = options
        self.clauses: list[list[int]] = []
        self.top = 0
        n = len(prep.a)
        n_slots = prep.n_slots
        all_placed = options.all_placed
        self.x: list[dict[int, int]] = [{s: self.new() for s in prep.allowed[m]} for m in range(n)]
        self.placed: list[int | None] = [None] * n
        for m in range(n):
            lits = list(self.x[m].values())
            if not lits:
                continue
            self.amo(lits)
            if all_placed:
                self.clauses.append(lits)
            elif prep.forced[m]:
                self.clauses.append(lits)
                self.placed[m] = None
            else:
                u = self.new()
                self.placed[m] = u
                self.clauses.append([-u, *lits])
                for v in lits:
                    self.clauses.append([-v, u])

        # busy[p][s]: None when p can have no meeting in s.
        self.busy: list[list[int | None]] = []
        # Each participant's meetings that can be placed at all.
        self.mine: list[list[int]] = [[m for m in ms if prep.allowed[m]] for ms in prep.meetings_of]
        for mine in self.mine:
            row: list[int | None] = []
            for s in range(n_slots):
                terms = [self.x[m][s] for m in mine if s in self.x[m]]
                if not terms:
                    row.append(None)
                    continue
                if len(terms) == 1:
                    row.append(terms[0])
                    continue
                b = self.new()
                self.clauses.append([-b, *terms])
                for t in terms:
                    self.clauses.append([-t, b])
                self.amo(terms)
                row.append(b)
            self.busy.append(row)

        self._capacity()
        self._precedences()
        if all_placed:
            self._exact_busy()
            if options.session_count:
                self._session_count()
        if options.imp2:
            self._busy_per_slot()
        self.ends: list[list[int]] = [self._breaks(p) for p in range(len(prep.meetings_of))]
        # Breaks each participant has whatever the others do (all placed only).
        self.floors = [0] * len(prep.meetings_of)
        if all_placed:
            for p, ends in enumerate(self.ends):
                if ends:
                    self.floors[p] = own_breaks(prep, p, len(ends))
                    self.card(ends, self.floors[p], "atleast", EncType.seqcounter)
            if options.starts:
                self._starts()
        self._max_meetings()
        # Spread guards (see spread_guard), built on demand.
        self.guards: dict[int, int] = {}
        self.counts: list[list[int]] | None = None
        self.lo: list[int] = []
        self.base_extra: list[list[int]] = []

    # -- helpers -----------------------------------------------------------------------
    def new(self) -> int:
        self.top += 1
        return self.top

    def amo(self, lits: Sequence[int]) -> None:
        if len(lits) <= 1:
            return
        enc = EncType.pairwise if len(lits) <= AMO_PAIRWISE else EncType.ladder
        self.card(lits, 1, "atmost", enc)

    def card(self, lits: Sequence[int], bound: int, kind: str, enc: int) -> None:
        lits = list(lits)
        if kind == "atmost":
            if bound >= len(lits):
                return
            if bound < 0:
                self.clauses.append([])
                return
            cnf = CardEnc.atmost(lits, bound, top_id=self.top, encoding=enc)
        elif kind == "atleast":
            if bound <= 0:
                return
            if bound > len(lits):
                self.clauses.append([])
                return
            cnf = CardEnc.atleast(lits, bound, top_id=self.top, encoding=enc)
        else:
            if bound > len(lits) or bound < 0:
                self.clauses.append([])
                return
            cnf = CardEnc.equals(lits, bound, top_id=self.top, encoding=enc)
        self.top = max(self.top, cnf.nv)
        self.clauses.extend(cnf.clauses)

    def totalizer(self, lits: Sequence[int], ubound: int) -> list[int]:
        """Outputs out[k], k = 0..ubound: at least k+1 of `lits` true implies out[k].

        One direction only (PySAT's): enough to impose "at most k" with not out[k].
        """
        tot = ITotalizer(lits=list(lits), ubound=ubound, top_id=self.top)
        self.top = max(self.top, tot.top_id)
        self.clauses.extend(tot.cnf.clauses)
        rhs = list(tot.rhs)
        tot.delete()
        return rhs

    def counter(self, lits: Sequence[int], ubound: int) -> list[int]:
        """Outputs out[k] <-> at least k+1 of `lits` are true, k = 0..ubound (both
        directions: "at least", parity and lower bounds need the way down too).

        A totalizer tree whose nodes count up to ubound + 1 (the top output of a node
        means "ubound + 1 or more"); min(x, K) + min(y, K) capped at K is min(x + y, K),
        so the truncation is exact.
        """
        cap = ubound + 1

        def build(items: Sequence[int]) -> list[int]:
            if len(items) == 1:
                return [items[0]]
            half = len(items) // 2
            left, right = build(items[:half]), build(items[half:])
            out = [self.new() for _ in range(min(cap, len(left) + len(right)))]
            n_out = len(out)
            # a[i] means "at least i", a[0] true, a[len + 1] false (1-based counts).
            for i in range(len(left) + 1):
                for j in range(len(right) + 1):
                    k = min(i + j, n_out)
                    if k > 0:
                        # at least i left and j right => at least i + j
                        up = [-left[i - 1]] if i else []
                        up += [-right[j - 1]] if j else []
                        self.clauses.append([*up, out[k - 1]])
                    if i + j < n_out:
                        # at most i left and at most j right => at most i + j
                        down = [left[i]] if i < len(left) else []
                        down += [right[j]] if j < len(right) else []
                        self.clauses.append([*down, -out[i + j]])
            return out

        out = build(list(lits))
        return out[: ubound + 1]

    # -- constraints -------------------------------------------------------------------
    def _capacity(self) -> None:
        prep = self.prep
        free = set(prep.free_tables)
        capacity = len(prep.free_tables)
        uses_free = [
            m for m in range(len(prep.a)) if prep.table[m] is None or prep.table[m] in free
        ]
        # Meetings pinned to one table: at most one of them per slot and table.
        at_table: dict[tuple[int, int], list[int]] = {}
        for m in range(len(prep.a)):
            t = prep.table[m]
            if t is not None:
                for s, v in self.x[m].items():
                    at_table.setdefault((s, t), []).append(v)
        for group in at_table.values():
            self.amo(group)
        # Greedy star clusters: the participant with most meetings left takes them all.
        clusters: list[list[int]] = []
        if self.options.clusters:
            left = set(uses_free)
            while left:
                counts: dict[int, int] = {}
                for m in left:
                    counts[prep.a[m]] = counts.get(prep.a[m], 0) + 1
                    counts[prep.b[m]] = counts.get(prep.b[m], 0) + 1
                p = max(counts, key=lambda q: (counts[q], -q))
                cluster = sorted(m for m in left if p in (prep.a[m], prep.b[m]))
                clusters.append(cluster)
                left.difference_update(cluster)
        else:
            clusters = [[m] for m in uses_free]
        for s in range(prep.n_slots):
            terms: list[int] = []
            for cluster in clusters:
                lits = [self.x[m][s] for m in cluster if s in self.x[m]]
                if len(lits) == 1:
                    terms.append(lits[0])
                elif lits:
                    c = self.new()
                    self.clauses.append([-c, *lits])
                    for v in lits:
                        self.clauses.append([-v, c])
                    terms.append(c)
            # A sequential counter grows with terms x capacity; large events get a
            # cardinality network (n log^2 n) instead.
            big = len(terms) * capacity > LARGE_CARD
            self.card(terms, capacity, "atmost", EncType.cardnetwrk if big else CAPACITY_ENC)

    def _precedences(self) -> None:
        prep = self.prep
        # late[q][s]: q takes slot s or a later one (only built for predecessors).
        late: dict[int, dict[int, int]] = {}
        for m in range(len(prep.a)):
            for q in prep.predecessors[m]:
                if q not in late:
                    late[q] = self._suffix(q)
                for s, v in self.x[m].items():
                    w = late[q].get(s)
                    if w is not None:
                        self.clauses.append([-v, -w])

    def _suffix(self, q: int) -> dict[int, int]:
        xs = self.x[q]
        out: dict[int, int] = {}
        nxt: int | None = None
        for s in range(self.prep.n_slots - 1, -1, -1):
            here = xs.get(s)
            if here is None:
                if nxt is not None:
                    out[s] = nxt
                continue
            if nxt is None:
                out[s] = here
            else:
                v = self.new()
                self.clauses.extend([[-v, here, nxt], [-here, v], [-nxt, v]])
                out[s] = v
            nxt = out[s]
        return out

    def _max_meetings(self) -> None:
        prep = self.prep
        for p, mine in enumerate(prep.meetings_of):
            if prep.max_meetings[p] < len(mine):
                present = [b for b in self.busy[p] if b is not None]
                self.card(present, prep.max_meetings[p], "atmost", EncType.seqcounter)

    def unplaced(self) -> list[int]:
        """One literal per unit of weight of each meeting left out."""
        out: list[int] = []
        for m, u in enumerate(self.placed):
            if u is not None:
                out.extend([-u] * self.prep.weight[m])
        return out

    def _exact_busy(self) -> None:
        for p, row in enumerate(self.busy):
            present = [b for b in row if b is not None]
            k = len(self.mine[p])
            if len(present) > k:
                self.card(present, k, "equals", IMP1_ENC)
            elif len(present) == k:
                # Busy in every slot it can take: units (a pigeonhole for the solver).
                self.clauses.extend([b] for b in present)
            else:
                self.clauses.append([])

    def _session_count(self) -> None:
        prep = self.prep
        sessions = prep.problem.session_of_slot
        for p, mine in enumerate(self.mine):
            k = len(mine)
            row = self.busy[p]
            for sess in sorted(set(sessions)):
                inside = {s for s in range(prep.n_slots) if sessions[s] == sess}
                lits = [b for s in sorted(inside) if (b := row[s]) is not None]
                only = sum(1 for m in mine if set(prep.allowed[m]) <= inside)
                never = sum(1 for m in mine if not set(prep.allowed[m]) & inside)
                at_most = k - never
                if only == len(lits):
                    self.clauses.extend([b] for b in lits)
                elif only > 0:
                    self.card(lits, only, "atleast", EncType.seqcounter)
                if at_most < len(lits):
                    self.card(lits, at_most, "atmost", EncType.seqcounter)

    def _starts(self) -> None:
        """A participant without a break is busy in one run of k_p slots: one literal
        per start its meetings can fill (a matching into the run), none for the others.

        The run's start decides a whole row of busy slots at once, and the starts
        that no matching fills are excluded outright, which unit propagation over
        the per-slot literals does not find (Hall's condition). bench/b2b_search.py
        (seeds 0 / 1, thousand conflicts to the proven optimum): ticf-13crafb 46.6 /
        53.1 against 100.9 / 61.8 without, ticf-14crafa 9.5 / 3.4 against 14.0 / 32.4;
        the two hard instances through bench/b2b.py, seeds 0-9: 17 of 20 runs at the
        optimum against 10 of 20.
        """
        prep = self.prep
        n_slots = prep.n_slots
        budget = START_CLAUSES
        for p, mine in enumerate(self.mine):
            ends = self.ends[p]
            k = len(mine)
            if k <= 1 or not ends or self.floors[p] > 0:
                continue
            budget -= n_slots * n_slots
            if budget < 0:
                return
            row = self.busy[p]
            # calm <-> p has no break.
            calm = self.new()
            self.clauses.append([calm, *ends])
            self.clauses.extend([-calm, -e] for e in ends)
            starts: list[int] = []
            for first in range(n_slots):
                here = row[first]
                if here is None:
                    continue
                idle = row[first - 1] if first > 0 else None
                before = [] if idle is None else [idle]
                run = range(first, first + k)
                fits = first + k <= n_slots and all(row[s] is not None for s in run)
                if fits:
                    inside = set(run)
                    fits = _matchable([[s for s in prep.allowed[m] if s in inside] for m in mine])
                if not fits:
                    # Busy here after an idle slot and no break: impossible.
                    self.clauses.append([-calm, -here, *before])
                    continue
                v = self.new()
                starts.append(v)
                self.clauses.append([-v, calm])
                self.clauses.append([v, -calm, -here, *before])
                for s, b in enumerate(row):
                    if b is not None:
                        self.clauses.append([-v, b] if first <= s < first + k else [-v, -b])
            self.clauses.append([-calm, *starts])
            self.amo(starts)

    def _busy_per_slot(self) -> None:
        prep = self.prep
        n_tables = prep.problem.n_tables
        # Every meeting placed and at most n_tables per slot: a tight day forces a
        # minimum in every slot.
        placeable = sum(1 for allowed in prep.allowed if allowed)
        least = placeable - (prep.n_slots - 1) * n_tables
        for s in range(prep.n_slots):
            lits = [b for row in self.busy if (b := row[s]) is not None]
            if len(lits) <= 2:
                continue
            ub = min(len(lits) - 1, 2 * n_tables)
            if len(lits) * ub > 4 * LARGE_CARD:
                # Millions of clauses on large events, for little: leave it out.
                continue
            if not self.options.parity:
                if 2 * n_tables < len(lits):
                    self.card(lits, 2 * n_tables, "atmost", EncType.seqcounter)
                continue
            rhs = self.counter(lits, ub)
            if 2 * n_tables < len(lits):
                self.clauses.append([-rhs[2 * n_tables]])
            if self.options.all_placed and least > 0 and 2 * least - 1 <= ub:
                self.clauses.append([rhs[2 * least - 1]])
            for i in range(0, ub, 2):
                self.clauses.append([-rhs[i], rhs[i + 1]])

    def _breaks(self, p: int) -> list[int]:
        row = self.busy[p]
        if len(self.mine[p]) <= 1:
            return []
        ends: list[int] = []
        seen: int | None = None
        for s in range(self.prep.n_slots - 1):
            cur = row[s]
            # seen after s: busy at s or before.
            if cur is None:
                seen_s = seen
            elif seen is None:
                seen_s = cur
            else:
                v = self.new()
                self.clauses.extend([[-v, cur, seen], [-cur, v], [-seen, v]])
                seen_s = v
            nxt = row[s + 1]
            if seen_s is not None and nxt is not None and seen_s != cur:
                e = self.new()
                # e <-> not cur and seen_s and nxt
                self.clauses.append([e, -seen_s, -nxt, *([cur] if cur is not None else [])])
                self.clauses.append([-e, seen_s])
                self.clauses.append([-e, nxt])
                if cur is not None:
                    self.clauses.append([-e, -cur])
                ends.append(e)
            seen = seen_s
        return ends

    def spread_guard(self, e: int) -> tuple[int, list[list[int]]]:
        """A literal that, assumed true, keeps the spread of breaks within e.

        Built on first use (its clauses are returned to be added to the solver):
        lo <= b_p <= lo + e for every participant, lo a unary variable shared by all
        guards; when some participant can have no break, lo = 0 and this is "at most
        e breaks each".
        """
        if e in self.guards:
            return self.guards[e], []
        before = len(self.clauses)
        if self.counts is None:
            self._break_counts()
        assert self.counts is not None
        g = self.new()
        lo = self.lo
        for out in self.counts:
            for j in range(len(lo) + 1):
                k = e + j
                if k >= len(out):
                    break
                # b_p >= e + j + 1 => lo >= j + 1
                self.clauses.append([-g, -out[k], *([lo[j]] if j < len(lo) else [])])
        self.guards[e] = g
        new = self.clauses[before:]
        del self.clauses[before:]
        return g, new

    def _break_counts(self) -> None:
        before = len(self.clauses)
        ends = self.ends
        # lo[j - 1] means lo >= j; lo <= min_p b_p.
        top = 0 if any(not e for e in ends) else min(len(e) for e in ends)
        lo = [self.new() for _ in range(top)]
        for j in range(1, top):
            self.clauses.append([-lo[j], lo[j - 1]])
        counts: list[list[int]] = []
        for e in ends:
            out = self.counter(e, len(e) - 1) if len(e) > 1 else list(e)
            counts.append(out)
            for j in range(top):
                self.clauses.append([-lo[j], out[j]])
        self.lo = lo
        self.counts = counts
        self.base_extra.extend(self.clauses[before:])
        del self.clauses[before:]

    # -- reading models ----------------------------------------------------------------
    def decode(self, model: Sequence[int]) -> list[int]:
        true = {v for v in model if v > 0}
        out = [UNPLACED] * len(self.x)
        for m, xs in enumerate(self.x):
            for s, v in xs.items():
                if v in true:
                    out[m] = s
        return out

    def all_ends(self) -> list[int]:
        return [e for row in self.ends for e in row]


def own_breaks(prep: Prepared, p: int, most: int) -> int:
    """Fewest breaks p can have with all its meetings placed, on its own (at most
    `most`, or 3 when more would be needed: the search finds the rest).

    A schedule with r runs of busy slots has r - 1 breaks; a set of slots can hold
    p's meetings when they match to distinct slots they allow.
    """
    mine = [m for m in prep.meetings_of[p] if prep.allowed[m]]
    k = len(mine)
    open_slots = sorted({s for m in mine for s in prep.allowed[m]})
    n_slots = prep.n_slots
    usable = set(open_slots)
    for runs in range(1, min(most, 3) + 1):
        for slots in _run_sets(n_slots, k, runs):
            if not usable.issuperset(slots):
                continue
            chosen = set(slots)
            if _matchable([[s for s in prep.allowed[m] if s in chosen] for m in mine]):
                return runs - 1
    return min(most, 3)


def _run_sets(n_slots: int, k: int, runs: int) -> Iterator[tuple[int, ...]]:
    """Every set of k slots made of exactly `runs` maximal runs."""
    if runs == 0:
        if k == 0:
            yield ()
        return

    def rec(start: int, left: int, runs_left: int) -> Iterator[tuple[int, ...]]:
        if runs_left == 0:
            if left == 0:
                yield ()
            return
        for a in range(start, n_slots):
            for length in range(1, left - runs_left + 2):
                if a + length > n_slots:
                    break
                for rest in rec(a + length + 1, left - length, runs_left - 1):
                    yield (*range(a, a + length), *rest)

    yield from rec(0, k, runs)


def _matchable(options: list[list[int]]) -> bool:
    """Whether every item gets a distinct value from its options (augmenting paths)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for s in options[i]:
            if s in seen:
                continue
            seen.add(s)
            if s not in owner or augment(owner[s], seen):
                owner[s] = i
                return True
        return False

    return all(
        augment(i, set()) for i in sorted(range(len(options)), key=lambda i: len(options[i]))
    )


# -- search --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Goal:
    """What the search optimises, lexicographically: placed weight, then (with
    fairness as a preference) the spread of breaks, then total breaks."""

    # Fairness limit d (None: none); hard or a preference.
    fairness: int | None
    fairness_hard: bool
    # Lower bound on the unplaced weight (from the upper bound on placed weight).
    unplaced_floor: int
    # Every placeable meeting can perhaps be placed: try that encoding first.
    try_all_placed: bool


@dataclass(frozen=True, slots=True)
class Config:
    """How one search process goes about it (a portfolio runs several)."""

    seed: int = 0
    # Find any schedule first (one in hand at once) or go straight for the bounds.
    first_solution: bool = True
    # From this time on (time.monotonic()), slices of the bottom-up search alternate
    # with top-down steps; None: bottom-up only.
    switch_at: float | None = None
    # A schedule (slot per meeting, -1 unplaced) to start from when not everything can
    # be placed.
    hint: tuple[int, ...] | None = None
    # CaDiCaL options of this process (name, value), on top of CADICAL_OPTIONS.
    cadical: tuple[tuple[str, int], ...] = ()


class Shared:
    """Bounds the search processes of one portfolio tell each other, per level name.

    `lower[name]`: a proven lower bound; `upper[name]`: the value of a schedule one of
    them has sent. Either process may use the other's proofs (the levels before are
    optimal values, the same for both), and stops once a bound meets a schedule.
    Only "breaks", the last level, takes the other's schedule as its own answer: an
    earlier level's schedule must be the process's own, for the levels after it.
    """

    NAMES = ("unplaced", "breaks")

    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        # Lock-free: each value only moves one way, and a stale read costs a slice.
        self.lower = {name: ctx.Value("q", -1, lock=False) for name in self.NAMES}
        self.upper = {name: ctx.Value("q", 2**62, lock=False) for name in self.NAMES}
        # Processes whose bounds are real (not made under an assumption): only with
        # two of them is there anything to read between calls.
        self.sharing = ctx.Value("q", 0)

    def join(self) -> None:
        with self.sharing.get_lock():
            self.sharing.value += 1

    def others(self) -> bool:
        """Whether another process than the caller (which has joined) shares."""
        return bool(self.sharing.value >= 2)

    def raise_lower(self, name: str, value: int) -> None:
        cell = self.lower.get(name)
        if cell is not None and value > cell.value:
            cell.value = value

    def lower_upper(self, name: str, value: int) -> None:
        cell = self.upper.get(name)
        if cell is not None and value < cell.value:
            cell.value = value

    def bounds(self, name: str) -> tuple[int, int]:
        if name not in self.lower:
            return -1, 2**62
        return self.lower[name].value, self.upper[name].value


class _Counter:
    """An incremental totalizer living in a solver: at_most(b) is an assumption."""

    def __init__(self, enc: Encoding, sat: Solver, lits: list[int], ubound: int) -> None:
        self.enc = enc
        self.sat = sat
        self.lits = lits
        self.tot = ITotalizer(lits=lits, ubound=max(1, min(ubound, len(lits) - 1)), top_id=enc.top)
        enc.top = max(enc.top, self.tot.top_id)
        sat.append_formula(self.tot.cnf.clauses)

    def at_most(self, bound: int) -> list[int]:
        if bound >= len(self.lits):
            return []
        if bound >= len(self.tot.rhs):
            self.tot.increase(ubound=bound, top_id=self.enc.top)
            self.enc.top = max(self.enc.top, self.tot.top_id)
            if self.tot.nof_new:
                self.sat.append_formula(self.tot.cnf.clauses[-self.tot.nof_new :])
        return [-self.tot.rhs[bound]]


def _value(lits: list[int], model: list[int]) -> int:
    true = {v for v in model if v > 0}
    return sum(1 for v in lits if (v in true if v > 0 else -v not in true))


class _Search:
    def __init__(
        self,
        prep: Prepared,
        goal: Goal,
        config: Config,
        send: Callable[[tuple[object, ...]], None],
        shared: Shared | None = None,
    ) -> None:
        self.prep = prep
        self.goal = goal
        self.config = config
        self.send = send
        self.shared = shared
        # Every meeting placed is assumed, not yet proven (no first schedule was asked
        # for): bounds on breaks are kept to this process until a schedule proves it.
        self.pending = False
        # Conflicts per second, measured as the search goes (a guess until then).
        self.rate = 2_000.0
        self.measured = False
        # Per participant: totalizer outputs over its break ends (see caps).
        self.own: dict[int, list[int]] = {}
        self.joined = False

    def settle(self) -> None:
        """This process's bounds are real from now on: it shares them."""
        self.pending = False
        if self.shared is not None and not self.joined:
            self.joined = True
            self.shared.join()

    def start(self, all_placed: bool) -> tuple[Encoding, Solver, list[int]]:
        """Encoding and solver; the assumptions every later call carries."""
        goal = self.goal
        enc = Encoding(self.prep, Options(all_placed=all_placed))
        clauses = enc.clauses
        if self.config.seed:
            rng = random.Random(self.config.seed)
            clauses = list(clauses)  # the order is shuffled, never a clause: no deep copy (0.1 s)
            rng.shuffle(clauses)
        # Options before the clauses: CaDiCaL takes most of them only while configuring.
        sat = Solver(name=SOLVER)
        options = {**CADICAL_OPTIONS, **dict(self.config.cadical)}
        if options:
            sat.configure(options)
        sat.append_formula(clauses)
        # Prefer no break and every meeting placed: the first model is then a good one.
        phases = [-v for v in enc.all_ends()] + [u for u in enc.placed if u is not None]
        hint = self.config.hint
        if hint is not None and not all_placed:
            # Start from the caller's schedule: the first model is then at least as good.
            phases = [-v for v in enc.all_ends()]
            for m, xs in enumerate(enc.x):
                phases += [v if hint[m] == s else -v for s, v in xs.items()]
                u = enc.placed[m]
                if u is not None:
                    phases.append(u if hint[m] in xs else -u)
        sat.set_phases(phases)
        assumptions: list[int] = []
        if goal.fairness is not None and goal.fairness_hard:
            if any(not e for e in enc.ends):
                # Someone can have no break: the spread is the largest count, plain
                # cardinality constraints propagate best.
                before = len(enc.clauses)
                for ends in enc.ends:
                    enc.card(ends, goal.fairness, "atmost", EncType.seqcounter)
                sat.append_formula(enc.clauses[before:])
                del enc.clauses[before:]
            else:
                assumptions.append(self.guard(enc, sat, goal.fairness))
        return enc, sat, assumptions

    def guard(self, enc: Encoding, sat: Solver, e: int) -> int:
        g, clauses = enc.spread_guard(e)
        if enc.base_extra:
            sat.append_formula(enc.base_extra)
            enc.base_extra = []
        sat.append_formula(clauses)
        return g

    def run(self) -> None:
        goal = self.goal
        send = self.send
        if goal.try_all_placed:
            enc, sat, assumptions = self.start(all_placed=True)
            # The spread search of a fairness preference needs a schedule to start.
            need = self.config.first_solution or (
                goal.fairness is not None and not goal.fairness_hard
            )
            model = self.feasible(sat, enc, assumptions, need=need)
            if model is not None:
                if model:
                    send(("level", "unplaced", 0))
                    self.settle()
                else:
                    self.pending = True
                if self.finish(enc, sat, assumptions, model):
                    return
            sat.delete()
        # Not every meeting can be placed (or that was never assumed).
        self.settle()
        enc, sat, assumptions = self.start(all_placed=False)
        found = None
        hint = self.config.hint
        if hint is not None:
            # The caller's schedule as the first model: propagation alone completes it.
            fixed = [enc.x[m][s] for m, s in enumerate(hint) if s in enc.x[m]]
            found = self.feasible(sat, enc, [*assumptions, *fixed], need=True)
        if found is None:
            found = self.feasible(sat, enc, assumptions, need=True)
        if found is None:
            # Only forced meetings that alone break hard fairness can do this.
            send(("infeasible",))
            return
        model = found
        lits = enc.unplaced()
        if lits:
            counter = _Counter(enc, sat, lits, _value(lits, model))
            best, model = self.minimise(
                sat, enc, counter, goal.unplaced_floor, _value(lits, model), assumptions, model,
                "unplaced",
            )  # fmt: skip
            assumptions = [*assumptions, *counter.at_most(best)]
        else:
            send(("level", "unplaced", 0))
        self.finish(enc, sat, assumptions, model)

    def feasible(
        self, sat: Solver, enc: Encoding, assumptions: list[int], *, need: bool
    ) -> list[int] | None:
        """A model under `assumptions`, sent as a schedule; [] when not asked for one
        and the formula is only assumed satisfiable (the bounds will tell); None when
        it is unsatisfiable."""
        if not need:
            return []
        if not sat.solve(assumptions=assumptions):
            return None
        model = sat.get_model()
        self.send(("solution", enc.decode(model)))
        return list(model)

    def finish(self, enc: Encoding, sat: Solver, assumptions: list[int], model: list[int]) -> bool:
        """Spread (fairness as a preference), then breaks, given the placed weight.

        False when the placed weight was only assumed (Config.first_solution off) and
        no schedule has it."""
        goal = self.goal
        send = self.send
        assumptions = list(assumptions)
        if goal.fairness is not None and not goal.fairness_hard:
            e = goal.fairness
            while True:
                g = self.guard(enc, sat, e)
                if sat.solve(assumptions=[*assumptions, g]):
                    model = sat.get_model()
                    send(("solution", enc.decode(model)))
                    break
                e += 1
                send(("bound", "spread", e))
            send(("level", "spread", e))
            assumptions.append(g)
        ends = enc.all_ends()
        if not ends:
            if self.pending:
                model = self.feasible(sat, enc, assumptions, need=True) or []
                if not model:
                    return False
                self.settle()
                send(("level", "unplaced", 0))
            send(("level", "breaks", 0))
            send(("done",))
            return True
        ub = _value(ends, model) if model else len(ends)
        counter = _Counter(enc, sat, ends, min(ub, sum(enc.floors) + 8))
        _, final = self.minimise(
            sat, enc, counter, sum(enc.floors), ub, assumptions, model, "breaks"
        )
        if final:
            send(("done",))
        return bool(final)

    def minimise(
        self,
        sat: Solver,
        enc: Encoding,
        counter: _Counter,
        lb: int,
        ub: int,
        assumptions: list[int],
        model: list[int],
        name: str,
    ) -> tuple[int, list[int]]:
        """Bottom-up: the first satisfiable bound lb, lb+1, ... is the optimum.

        The calls run in slices of conflicts, so that past `Config.switch_at` a slice
        spent in vain on the bound alternates with one on "at most ub - 1": near the
        deadline the schedule in hand keeps improving instead of waiting for a proof.
        """
        stretch = 1.0
        step = ub
        shared = self.shared
        # Calls made so far on the bound lb (see PORTFOLIO_SLICE).
        tries = 0
        tried = lb
        while lb < ub:
            if shared is not None and not self.pending:
                theirs_lb, theirs_ub = shared.bounds(name)
                if theirs_lb > lb:
                    lb = min(theirs_lb, ub)
                    self.send(("bound", name, lb))
                if name == "breaks" and lb >= theirs_ub:
                    # The other process holds a schedule at the proven bound: the
                    # parent has it, this level is settled.
                    self.send(("level", name, lb))
                    return lb, model
                if lb >= ub:
                    break
            # Until the switch, one call runs to it (slices cost: each call restarts;
            # past it, top-down steps need a schedule in hand); in a portfolio where
            # another process shares real bounds, calls of PORTFOLIO_SLICE and more
            # let them in.
            switch = self.config.switch_at
            seconds = 1e9
            if switch is not None and model:
                seconds = max(SLICE, switch - time.monotonic())
            if shared is not None and not self.pending and shared.others():
                tries = tries + 1 if tried == lb else 1
                tried = lb
                seconds = min(seconds, PORTFOLIO_SLICE * 2 ** (tries - 1))
            caps = self.caps(enc, sat, lb) if name == "breaks" else []
            status = self.limited(sat, [*assumptions, *counter.at_most(lb), *caps], seconds)
            if status:
                model = sat.get_model()
                if self.pending:
                    # An all-placed schedule: the assumption is proven, and with it
                    # the bounds found so far.
                    self.settle()
                    self.send(("level", "unplaced", 0))
                    self.send(("bound", name, lb))
                self.send(("solution", enc.decode(model)))
                ub = _value(counter.lits, model)
                if shared is not None:
                    shared.raise_lower(name, lb)
                    shared.lower_upper(name, ub)
                break
            if status is False:
                lb += 1
                if not self.pending:
                    self.send(("bound", name, lb))
                    if shared is not None:
                        shared.raise_lower(name, lb)
                continue
            if not model or switch is None or time.monotonic() < switch:
                continue
            # Aim half-way between bound and schedule; closer to the schedule when
            # that was too hard for a slice.
            target = ub - max(1, min(step, (ub - lb) // 2))
            status = self.limited(sat, [*assumptions, *counter.at_most(target)], SLICE * stretch)
            if status:
                model = sat.get_model()
                self.send(("solution", enc.decode(model)))
                ub = _value(counter.lits, model)
                if shared is not None:
                    shared.lower_upper(name, ub)
            elif status is False:
                lb = target + 1
                self.send(("bound", name, lb))
                if shared is not None:
                    shared.raise_lower(name, lb)
            else:
                step = max(1, min(step, ub - target) // 2)
                stretch *= 1.5
        if not model:
            # Every bound refused and no schedule: the assumption (every meeting
            # placed) was wrong; another process settles it.
            return ub, model
        self.send(("level", name, ub))
        return ub, model

    def caps(self, enc: Encoding, sat: Solver, bound: int) -> list[int]:
        """With at most `bound` breaks in all, each participant has at most its own
        floor plus the slack (bound minus the sum of floors): implied, but the solver
        would have to count across participants to see it. At slack 0 it fixes every
        participant's count outright."""
        if not any(enc.floors) and bound > 0:
            # Without floors the caps are the bound itself: nothing new.
            return []
        slack = bound - sum(enc.floors)
        if slack < 0 or slack > MAX_SLACK:
            return []
        out: list[int] = []
        for p, ends in enumerate(enc.ends):
            cap = enc.floors[p] + slack
            if cap >= len(ends):
                continue
            if cap == 0:
                out.extend(-e for e in ends)
                continue
            counts = self.own.get(p)
            if counts is None or len(counts) <= cap:
                before = len(enc.clauses)
                counts = enc.totalizer(ends, min(len(ends) - 1, cap + 2))
                sat.append_formula(enc.clauses[before:])
                del enc.clauses[before:]
                self.own[p] = counts
            out.append(-counts[cap])
        return out

    def limited(self, sat: Solver, assumptions: list[int], seconds: float) -> bool | None:
        """One slice: solve with a conflict budget worth about `seconds`."""
        sat.conf_budget(max(50, int(min(self.rate * seconds, 2**31 - 1))))
        before = sat.accum_stats().get("conflicts", 0)
        started = time.monotonic()
        status: bool | None = sat.solve_limited(assumptions=assumptions)
        spent = time.monotonic() - started
        done = sat.accum_stats().get("conflicts", 0) - before
        if spent > 0.05 and done > 0:
            # The first measure replaces the guess: averaged with it, the budget of a
            # call meant to run to the switch was a third short on forum-13crafb (6.5k
            # conflicts a second against 4.2k assumed), and the call ended in a restart.
            rate = done / spent
            self.rate = 0.5 * self.rate + 0.5 * rate if self.measured else rate
            self.measured = True
        return status


def search(
    prep: Prepared,
    goal: Goal,
    send: Callable[[tuple[object, ...]], None],
    config: Config,
    shared: Shared | None = None,
) -> None:
    """Run the whole lexicographic search, sending what it finds as it goes.

    Messages: ("solution", slot_of); ("level", name, value) when a level is proven
    optimal (name: "unplaced", "spread", "breaks"); ("bound", name, value) for a lower
    bound on a level whose earlier levels are proven; ("infeasible",) when even the
    fixed meetings cannot be placed; ("done",) when everything is proven.
    """
    _Search(prep, goal, config, send, shared).run()


# -- running it beside the caller ----------------------------------------------------


@dataclass
class Outcome:
    """What the search processes sent before they finished or the deadline came."""

    solutions: list[list[int]]
    # Levels proven optimal: "unplaced", "spread", "breaks" -> value.
    levels: dict[str, int]
    # Lower bounds on levels whose earlier levels are proven.
    bounds: dict[str, int]
    done: bool
    infeasible: bool
    # False when no search process could be started (e.g. inside a daemonic worker).
    ran: bool = True


def _child(
    prep: Prepared, goal: Goal, config: Config, conn: Connection, shared: Shared | None
) -> None:
    try:
        search(prep, goal, conn.send, config, shared)
    except (BrokenPipeError, EOFError):
        pass
    finally:
        conn.close()


def run(prep: Prepared, goal: Goal, deadline: float, configs: Sequence[Config]) -> Outcome:
    """Search in child processes (one per configuration) until done or the deadline.

    CaDiCaL has no time limit of its own: a child is killed at the deadline, and what
    it sent until then stands.
    """
    ctx = multiprocessing.get_context("fork")
    procs: list[multiprocessing.process.BaseProcess] = []
    conns: list[Connection] = []
    out = Outcome([], {}, {}, False, False)
    shared = Shared(ctx) if len(configs) > 1 else None
    try:
        for config in configs:
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(prep, goal, config, child, shared), daemon=True)
            try:
                proc.start()
            except (AssertionError, OSError):
                parent.close()
                child.close()
                break
            child.close()
            procs.append(proc)
            conns.append(parent)
        if not procs:
            out.ran = False
            return out
        live = list(conns)
        while live and not out.done:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = wait(live, timeout=left)
            if not ready:
                break
            for conn in ready:
                assert isinstance(conn, Connection)
                try:
                    message = conn.recv()
                except EOFError:
                    live.remove(conn)
                    continue
                _take(out, message)
        # One process can settle the search with the other's schedule: what the
        # others sent before that is in their pipes.
        for conn in live:
            with contextlib.suppress(EOFError, OSError):
                while conn.poll(0):
                    _take(out, conn.recv())
        return out
    finally:
        for worker in procs:
            if worker.is_alive():
                worker.kill()
        for worker in procs:
            worker.join()
        for conn in conns:
            conn.close()


def _take(out: Outcome, message: tuple[object, ...]) -> None:
    kind = message[0]
    if kind == "solution":
        slot_of = message[1]
        assert isinstance(slot_of, list)
        out.solutions.append(slot_of)
    elif kind in ("level", "bound"):
        name, value = message[1], message[2]
        assert isinstance(name, str)
        assert isinstance(value, int)
        if kind == "level":
            out.levels[name] = value
            out.bounds[name] = value
        else:
            out.bounds[name] = max(out.bounds.get(name, 0), value)
    elif kind == "done":
        out.done = True
    elif kind == "infeasible":
        out.infeasible = True
