"""Reader for the MiniZinc data files (`.dzn`) of the B2B scheduling instances.

Supports what such files use: `%` comments, integers, sets `{1,3,5}` / `{2..4}` /
`{}`, 1-D arrays, 2-D arrays `[| a, b, c | d, e, f |]`, `array1d(1..n, [...])` and
`array2d(1..r, 1..c, [...])`, trailing commas. Fields (see the data README):
nBusiness, nTables, nTotalSlots, requested are required; nMorningSlots, nMeetings,
forbidden, fixed, precedences are optional; anything else (meetingsxBusiness...) is
derived data and ignored. In the file participants, meetings, slots and tables count
from 1; the SchedulingProblem counts slots from 0, keeps participant ids as in the file
and gives meeting k the id k.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from services.events.scheduling.model import Meeting, Participant, SchedulingProblem


class DznError(ValueError):
    """Malformed or inconsistent .dzn data; the message names the line."""


@dataclass(frozen=True, slots=True)
class IntRange:
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Array2D:
    rows: tuple[tuple[Value, ...], ...]
    lines: tuple[int, ...]


Value = int | frozenset[int] | IntRange | tuple["Value", ...] | Array2D

_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\f\v]+)|(?P<nl>\n)|(?P<comment>%[^\n]*)|(?P<int>-?\d+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<dots>\.\.)|(?P<sym>[=;,\[\]{}|()])"
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    line: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    line = 1
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise DznError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind == "nl":
            line += 1
        elif kind not in ("ws", "comment"):
            tokens.append(_Tok(kind, match.group(), line))
        pos = match.end()
    tokens.append(_Tok("eof", "", line))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def next(self) -> _Tok:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.text != text:
            found = tok.text or "end of file"
            raise DznError(f"line {tok.line}: expected {text!r}, found {found!r}")
        return tok

    def statements(self) -> dict[str, tuple[Value, int]]:
        out: dict[str, tuple[Value, int]] = {}
        while self.peek().kind != "eof":
            name = self.next()
            if name.kind != "ident":
                raise DznError(f"line {name.line}: expected a field name, found {name.text!r}")
            if name.text in out:
                raise DznError(f"line {name.line}: {name.text} is assigned twice")
            self.expect("=")
            value = self.value()
            self.expect(";")
            out[name.text] = (value, name.line)
        return out

    def value(self) -> Value:
        tok = self.peek()
        if tok.kind == "int":
            self.next()
            if self.peek().kind == "dots":
                self.next()
                return IntRange(int(tok.text), self.integer())
            return int(tok.text)
        if tok.text == "{":
            return self.set_literal()
        if tok.text == "[":
            return self.array()
        if tok.kind == "ident" and tok.text in ("array1d", "array2d"):
            return self.call()
        raise DznError(f"line {tok.line}: unexpected {tok.text or 'end of file'!r}")

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "int":
            raise DznError(f"line {tok.line}: expected an integer, found {tok.text!r}")
        return int(tok.text)

    def set_literal(self) -> frozenset[int]:
        self.expect("{")
        items: set[int] = set()
        while self.peek().text != "}":
            low = self.integer()
            if self.peek().kind == "dots":
                self.next()
                items.update(range(low, self.integer() + 1))
            else:
                items.add(low)
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != "}":
                tok = self.peek()
                raise DznError(
                    f"line {tok.line}: expected ',' or '}}' in a set, found {tok.text!r}"
                )
        self.next()
        return frozenset(items)

    def array(self) -> Value:
        self.expect("[")
        if self.peek().text == "|":
            return self.array2d_body()
        items: list[Value] = []
        while self.peek().text != "]":
            items.append(self.value())
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != "]":
                tok = self.peek()
                raise DznError(f"line {tok.line}: expected ',' or ']', found {tok.text!r}")
        self.next()
        return tuple(items)

    def array2d_body(self) -> Array2D:
        rows: list[tuple[Value, ...]] = []
        lines: list[int] = []
        self.expect("|")
        while self.peek().text != "]":
            line = self.peek().line
            row: list[Value] = []
            while self.peek().text not in ("|", "]"):
                row.append(self.value())
                if self.peek().text == ",":
                    self.next()
                elif self.peek().text not in ("|", "]"):
                    tok = self.peek()
                    raise DznError(f"line {tok.line}: expected ',' or '|', found {tok.text!r}")
            if self.peek().text == "]":
                tok = self.peek()
                raise DznError(f"line {tok.line}: a 2-D array must end with '|]'")
            self.next()
            rows.append(tuple(row))
            lines.append(line)
        self.next()
        if rows and any(len(r) != len(rows[0]) for r in rows):
            raise DznError(f"line {lines[0]}: rows of a 2-D array differ in length")
        return Array2D(tuple(rows), tuple(lines))

    def call(self) -> Value:
        name = self.next()
        self.expect("(")
        args: list[Value] = [self.value()]
        while self.peek().text == ",":
            self.next()
            args.append(self.value())
        self.expect(")")
        data = args[-1]
        if not isinstance(data, tuple):
            raise DznError(f"line {name.line}: {name.text} needs a list as last argument")
        if name.text == "array1d" and len(args) == 2:
            return data
        if name.text == "array2d" and len(args) == 3:
            r, c = args[0], args[1]
            if not isinstance(r, IntRange) or not isinstance(c, IntRange):
                raise DznError(f"line {name.line}: array2d needs two ranges")
            n_cols = c.high - c.low + 1
            n_rows = r.high - r.low + 1
            if n_rows * n_cols != len(data):
                raise DznError(f"line {name.line}: array2d size does not match its ranges")
            rows = tuple(data[k * n_cols : (k + 1) * n_cols] for k in range(n_rows))
            return Array2D(rows, (name.line,) * n_rows)
        raise DznError(f"line {name.line}: wrong number of arguments to {name.text}")


def parse_dzn(text: str) -> dict[str, tuple[Value, int]]:
    """Field name -> (value, line of the assignment)."""
    return _Parser(_tokenize(text)).statements()


def load_problem(path: str | Path, *, fairness: int | None = 2) -> SchedulingProblem:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DznError(f"cannot read {path}: {exc}") from exc
    return problem_from_dzn(text, fairness=fairness)


def problem_from_dzn(text: str, *, fairness: int | None = 2) -> SchedulingProblem:
    fields = parse_dzn(text)

    def line_of(name: str) -> int:
        return fields[name][1] if name in fields else 1

    def integer(name: str, default: int | None = None) -> int:
        if name not in fields:
            if default is None:
                raise DznError(f"line 1: required field {name} is missing")
            return default
        value, line = fields[name]
        if not isinstance(value, int):
            raise DznError(f"line {line}: {name} must be an integer")
        return value

    n_business = integer("nBusiness")
    n_tables = integer("nTables")
    n_slots = integer("nTotalSlots")
    n_morning = integer("nMorningSlots", n_slots)
    for name, value in (("nBusiness", n_business), ("nTables", n_tables), ("nTotalSlots", n_slots)):
        if value <= 0:
            raise DznError(f"line {line_of(name)}: {name} must be positive")
    if not 0 <= n_morning <= n_slots:
        raise DznError(f"line {line_of('nMorningSlots')}: nMorningSlots must be in 0..nTotalSlots")

    if "requested" not in fields:
        raise DznError("line 1: required field requested is missing")
    requested, req_line = fields["requested"]
    if isinstance(requested, Array2D):
        rows, row_lines = requested.rows, requested.lines
    elif isinstance(requested, tuple) and not requested:
        rows, row_lines = (), ()
    else:
        raise DznError(f"line {req_line}: requested must be a 2-D array [| p1, p2, s | ... |]")
    n_meetings = integer("nMeetings", len(rows))
    if n_meetings != len(rows):
        raise DznError(
            f"line {line_of('nMeetings')}: nMeetings is {n_meetings} "
            f"but requested has {len(rows)} rows"
        )

    forbidden = _list_of_sets(fields, "forbidden", n_business)
    fixed = _list_of_ints(fields, "fixed", n_meetings)
    precedences = _list_of_sets(fields, "precedences", n_meetings)

    participants = []
    for p in range(n_business):
        slots = forbidden[p] - {0} if forbidden else frozenset()
        bad = [s for s in slots if not 1 <= s <= n_slots]
        if bad:
            raise DznError(
                f"line {line_of('forbidden')}: participant {p + 1} forbids slot {bad[0]}, "
                f"outside 1..{n_slots}"
            )
        participants.append(Participant(id=p + 1, unavailable=frozenset(s - 1 for s in slots)))

    meetings = []
    for k, (row, line) in enumerate(zip(rows, row_lines, strict=True)):
        ints = [v for v in row if isinstance(v, int)]
        if len(row) not in (2, 3) or len(ints) != len(row):
            raise DznError(f"line {line}: a requested row is p1, p2[, s] with integers")
        p1, p2 = ints[0], ints[1]
        kind = ints[2] if len(ints) == 3 else 3
        for who in (p1, p2):
            if not 1 <= who <= n_business:
                raise DznError(f"line {line}: participant {who} outside 1..{n_business}")
        if p1 == p2:
            raise DznError(f"line {line}: participant {p1} cannot meet itself")
        if kind not in (1, 2, 3):
            raise DznError(f"line {line}: session must be 1, 2 or 3, got {kind}")
        slot = fixed[k] if fixed else 0
        if not 0 <= slot <= n_slots:
            raise DznError(f"line {line_of('fixed')}: meeting {k + 1} fixed to slot {slot}")
        before = precedences[k] if precedences else frozenset()
        bad_prec = [q for q in before if not 1 <= q <= n_meetings]
        if bad_prec:
            raise DznError(
                f"line {line_of('precedences')}: meeting {k + 1} depends on unknown "
                f"meeting {bad_prec[0]}"
            )
        meetings.append(
            Meeting(
                id=k + 1,
                a=p1,
                b=p2,
                sessions=None if kind == 3 else frozenset({kind - 1}),
                fixed_slot=slot - 1 if slot else None,
                after=frozenset(before),
            )
        )
    return SchedulingProblem(
        n_slots=n_slots,
        session_of_slot=tuple(0 if s < n_morning else 1 for s in range(n_slots)),
        n_tables=n_tables,
        participants=tuple(participants),
        meetings=tuple(meetings),
        fairness=fairness,
    )


def _list_of_sets(
    fields: dict[str, tuple[Value, int]], name: str, length: int
) -> list[frozenset[int]] | None:
    if name not in fields:
        return None
    value, line = fields[name]
    if not isinstance(value, tuple) or not all(isinstance(v, frozenset) for v in value):
        raise DznError(f"line {line}: {name} must be an array of sets")
    if len(value) != length:
        raise DznError(f"line {line}: {name} has {len(value)} entries, expected {length}")
    return [v for v in value if isinstance(v, frozenset)]


def _list_of_ints(fields: dict[str, tuple[Value, int]], name: str, length: int) -> list[int] | None:
    if name not in fields:
        return None
    value, line = fields[name]
    if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
        raise DznError(f"line {line}: {name} must be an array of integers")
    if len(value) != length:
        raise DznError(f"line {line}: {name} has {len(value)} entries, expected {length}")
    return [v for v in value if isinstance(v, int)]
