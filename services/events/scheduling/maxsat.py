"""MaxSAT engine (PySAT's RC2) for instances where every meeting must be placed.

The encoding follows Bofill et al. (JAIR 2022), whose MaxSAT model with implied
constraints solved all their instances within seconds:

- x[m,s] for each allowed slot s of meeting m, exactly one per meeting;
- at most one meeting per participant and slot; at most n_tables meetings per slot
  (cardinality encoding), plus the implied lower bound per slot when the day is tight;
- busy[p,s] <-> OR of p's x in slot s; implied: p is busy in exactly k_p slots;
- later[p,s] <-> busy somewhere at or after s;
- brk[p,s] <-> busy[p,s] and not busy[p,s+1] and later[p,s+1]: a break starts after s
  (the day is one timeline, see scheduling.breaks); soft clause "not brk" of weight 1;
- implied: busy at s and t with t - s >= k_p forces a break starting in [s, t);
- fairness: each participant has at most `fairness` breaks (hard cardinality).

Fairness as "at most d breaks each" is exact whenever some participant has no break:
then |b_p - b_q| <= d is max <= d. Any schedule with fewer total breaks than the
number of participants has one, so the optimum found here is the fair optimum when it
is below that count (see MaxSatResult.bound).

RC2 has no time limit: it runs in a forked process that the caller kills at the
deadline. Core-guided search raises the lower bound break by break and holds no
schedule until it proves the optimum, so a first plain SAT call sends a feasible
schedule (all meetings placed, fairness met) before RC2 starts.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from pysat.card import CardEnc, EncType
from pysat.examples.rc2 import RC2
from pysat.formula import WCNF, IDPool
from pysat.solvers import Solver

from services.events.scheduling.model import Prepared

# Above this many x variables the formula takes too long to build and solve.
MAX_VARIABLES = 50_000
_ORACLE = "mgh"  # MiniSat (GitHub version): fastest here on the zero-break calls
_CAPACITY = int(EncType.seqcounter)
_BUSY_CAPACITY = True
_RC2_OPTIONS: dict[str, Any] = {"adapt": True, "exhaust": True, "minz": True}


@dataclass(frozen=True, slots=True)
class MaxSatResult:
    slot_of: list[int]
    # Total breaks of slot_of (as the formula counts them).
    cost: int
    # Lower bound on the total breaks of any fair schedule placing everything.
    bound: int
    optimal: bool


def eligible(prep: Prepared) -> bool:
    """Every meeting must and can be placed, no table is pinned, no maximum binds."""
    n_x = sum(len(allowed) for allowed in prep.allowed)
    return (
        bool(prep.a)
        and n_x <= MAX_VARIABLES
        and all(prep.allowed)
        and all(t is None for t in prep.table)
        and len(prep.free_tables) == prep.problem.n_tables
        and all(prep.max_meetings[p] >= len(mine) for p, mine in enumerate(prep.meetings_of))
    )


class _Encoding:
    def __init__(self, prep: Prepared, *, implied: bool = True) -> None:
        self.prep = prep
        pool = IDPool()
        self.pool = pool
        wcnf = WCNF()
        self.wcnf = wcnf
        n_slots = prep.n_slots
        n_tables = prep.problem.n_tables
        fairness = prep.problem.fairness
        n = len(prep.a)
        self.x: list[dict[int, int]] = [
            {s: pool.id(("x", m, s)) for s in prep.allowed[m]} for m in range(n)
        ]

        def card(lits: list[int], bound: int, kind: str) -> None:
            if kind == "atmost":
                if bound >= len(lits):
                    return
                enc = CardEnc.atmost(lits, bound, vpool=pool, encoding=_card_type(lits, bound))
            elif kind == "atleast":
                if bound <= 0:
                    return
                enc = CardEnc.atleast(lits, bound, vpool=pool, encoding=EncType.seqcounter)
            else:
                enc = CardEnc.equals(lits, bound, vpool=pool, encoding=EncType.seqcounter)
            for clause in enc.clauses:
                wcnf.append(clause)

        for m in range(n):
            lits = list(self.x[m].values())
            wcnf.append(lits)
            card(lits, 1, "atmost")

        per_slot: list[list[int]] = [[] for _ in range(n_slots)]
        for m in range(n):
            for s, v in self.x[m].items():
                per_slot[s].append(v)
        # Total meetings are fixed, so a tight day forces a minimum in every slot.
        least = n - (n_slots - 1) * n_tables
        for s in range(n_slots):
            card(per_slot[s], n_tables, "atmost")
            if implied:
                card(per_slot[s], least, "atleast")

        # Precedences: m in slot s excludes q in any slot >= s.
        for m in range(n):
            for q in prep.predecessors[m]:
                for s, v in self.x[m].items():
                    for t, w in self.x[q].items():
                        if t >= s:
                            wcnf.append([-v, -w])

        self.breaks: list[list[int]] = []
        busy_in: list[list[int]] = [[] for _ in range(n_slots)]
        for p, mine in enumerate(prep.meetings_of):
            busy: list[int | None] = []
            for s in range(n_slots):
                terms = [self.x[m][s] for m in mine if s in self.x[m]]
                if not terms:
                    busy.append(None)
                    continue
                b = pool.id(("busy", p, s))
                wcnf.append([-b, *terms])
                for t in terms:
                    wcnf.append([-t, b])
                card(terms, 1, "atmost")
                busy.append(b)
                busy_in[s].append(b)
            k = len(mine)
            present = [b for b in busy if b is not None]
            if implied and len(present) > k:
                card(present, k, "equals")
            if k <= 1:
                self.breaks.append([])
                continue
            # later[s]: busy at some slot >= s.
            later: list[int | None] = [None] * (n_slots + 1)
            for s in range(n_slots - 1, -1, -1):
                b, nxt = busy[s], later[s + 1]
                if b is None and nxt is None:
                    continue
                lv = pool.id(("later", p, s))
                parts = [v for v in (b, nxt) if v is not None]
                wcnf.append([-lv, *parts])
                for v in parts:
                    wcnf.append([-v, lv])
                later[s] = lv
            brk: dict[int, int] = {}
            for s in range(n_slots - 1):
                b, after = busy[s], later[s + 2] if s + 2 <= n_slots else None
                if b is None or after is None:
                    continue
                nb = busy[s + 1]
                # idle at s+1 and busy later: busy at >= s+2 and not at s+1.
                v = pool.id(("brk", p, s))
                wcnf.append([-b, *([nb] if nb is not None else []), -after, v])
                wcnf.append([-v, b])
                wcnf.append([-v, after])
                if nb is not None:
                    wcnf.append([-v, -nb])
                brk[s] = v
                wcnf.append([-v], weight=1)
            if implied:
                for s in range(n_slots):
                    for t in range(s + k, n_slots):
                        bs, bt = busy[s], busy[t]
                        if bs is None or bt is None:
                            continue
                        wcnf.append([-bs, -bt, *(brk[u] for u in range(s, t) if u in brk)])
            lits = list(brk.values())
            if implied:
                self._blocks(p, busy, lits)
            self.breaks.append(lits)
            if fairness is not None:
                card(lits, fairness, "atmost")
        if implied and _BUSY_CAPACITY and least > 0:
            # Each meeting keeps two participants busy: the capacity in busy terms.
            # Only on tight days (every slot must hold meetings): it slows the others.
            for s in range(n_slots):
                card(busy_in[s], 2 * n_tables, "atmost")
                card(busy_in[s], 2 * least, "atleast")

    def _blocks(self, p: int, busy: list[int | None], brk: list[int]) -> None:
        """Without a break, p's meetings fill one block of k consecutive slots.

        Only blocks where p's meetings can be matched to distinct allowed slots are
        candidates: start[p,a] for each; one of them or some break of p. Slots that
        all candidate blocks cover (or none) then follow by unit propagation.
        """
        prep = self.prep
        mine = prep.meetings_of[p]
        k = len(mine)
        starts: list[int] = []
        for a in range(prep.n_slots - k + 1):
            block = range(a, a + k)
            if all(busy[s] is not None for s in block) and _matchable(
                [[s for s in prep.allowed[m] if a <= s < a + k] for m in mine]
            ):
                v = self.pool.id(("start", p, a))
                starts.append(v)
                for s, b in enumerate(busy):
                    if b is not None:
                        self.wcnf.append([-v, b] if a <= s < a + k else [-v, -b])
        self.wcnf.append([*starts, *brk])
        for i, v in enumerate(starts):
            for w in starts[i + 1 :]:
                self.wcnf.append([-v, -w])

    def decode(self, model: list[int]) -> list[int]:
        true = {v for v in model if v > 0}
        out = [-1] * len(self.x)
        for m, xs in enumerate(self.x):
            for s, v in xs.items():
                if v in true:
                    out[m] = s
        return out

    def cost(self, model: list[int]) -> int:
        true = {v for v in model if v > 0}
        return sum(1 for lits in self.breaks for v in lits if v in true)


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

    return all(augment(i, set()) for i in range(len(options)))


def _card_type(lits: list[int], bound: int) -> int:
    if bound == 1 and len(lits) <= 6:
        return int(EncType.pairwise)
    if bound == 1:
        return int(EncType.ladder)
    return _CAPACITY


class _Reporting(RC2):  # type: ignore[misc]
    """RC2 that sends its lower bound to the parent after each core."""

    def __init__(self, formula: WCNF, conn: Connection, **kwargs: Any) -> None:
        super().__init__(formula, **kwargs)
        self._conn = conn

    def get_core(self) -> None:
        super().get_core()
        self._conn.send(("bound", int(self.cost)))


def _child(enc: _Encoding, conn: Connection) -> None:
    try:
        hard = enc.wcnf.hard
        with Solver(name=_ORACLE, bootstrap_with=hard) as sat:
            # Prefer no break: the first model then has few of them.
            sat.set_phases([-v for lits in enc.breaks for v in lits])
            if not sat.solve():
                conn.send(("infeasible", None))
                return
            model = sat.get_model()
            conn.send(("feasible", (enc.decode(model), enc.cost(model))))
        rc2 = _Reporting(enc.wcnf, conn, solver=_ORACLE, **_RC2_OPTIONS)
        model = rc2.compute()
        if model is None:
            conn.send(("infeasible", None))
        else:
            conn.send(("optimal", (enc.decode(model), enc.cost(model))))
    finally:
        conn.close()


def solve_maxsat(prep: Prepared, deadline: float) -> MaxSatResult | None:
    """Minimise breaks with every meeting placed; None if nothing was found in time.

    A result with optimal=False carries the first feasible schedule and RC2's lower
    bound at the deadline. None also when the hard constraints are unsatisfiable
    (fairness as "at most d each" may be too strict; the caller falls back).
    """
    enc = _Encoding(prep)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(enc, child), daemon=True)
    try:
        proc.start()
    except (AssertionError, OSError):
        # E.g. inside a daemonic worker, which may not have children: CP-SAT instead.
        parent.close()
        child.close()
        return None
    child.close()
    best: list[int] | None = None
    best_cost = 0
    bound = 0
    optimal = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not parent.poll(left):
                break
            try:
                kind, payload = parent.recv()
            except EOFError:
                break
            if kind == "bound":
                bound = max(bound, payload)
            elif kind == "feasible":
                best, best_cost = payload
            elif kind == "optimal":
                best, best_cost = payload
                bound = best_cost
                optimal = True
                break
            else:
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if best is None:
        return None
    # Fairness as "at most d each" is exact below the number of participants.
    if prep.problem.fairness is not None and all(len(m) >= 2 for m in prep.meetings_of):
        cap = len(prep.meetings_of)
        bound = min(bound, cap)
        optimal = optimal and best_cost < cap
    return MaxSatResult(best, best_cost, bound, optimal)
