"""`clusterbridge schedule`: JSON contract, readable output, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.events.cli import app, schedule
from services.events.scheduling.dzn import load_problem
from services.events.scheduling.solve import Placement, Schedule
from tests.events.schedule_validator import validate

INSTANCE = """nBusiness = 5;
nMeetings = 5;
nTables = 2;
nTotalSlots = 4;
nMorningSlots = 2;
requested = [| 1, 2, 3 | 1, 3, 3 | 1, 4, 1 | 2, 5, 2 | 4, 5, 3 |];
forbidden = [{0}, {0}, {0, 4}, {}, {}];
"""

runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.dzn"
    path.write_text(text, encoding="utf-8")
    return path


def test_json_output_is_one_valid_schedule(tmp_path: Path) -> None:
    path = write(tmp_path, INSTANCE)
    result = runner.invoke(app, ["schedule", "--dzn", str(path), "--time-limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"meetings", "unplaced", "total_breaks", "bound", "seconds"} <= payload.keys()
    problem = load_problem(path)
    # Back to the scheduler's 0-based numbering and check with the validator.
    placements = tuple(
        Placement(m["meeting"], m["slot"] - 1, m["table"] - 1) for m in payload["meetings"]
    )
    by_person: dict[int, list[int]] = {p.id: [] for p in problem.participants}
    for m in payload["meetings"]:
        by_person[m["a"]].append(m["slot"] - 1)
        by_person[m["b"]].append(m["slot"] - 1)
    from tests.events.schedule_validator import participant_breaks

    breaks = {p: participant_breaks(s) for p, s in by_person.items()}
    rebuilt = Schedule(
        placements=placements,
        unplaced=tuple(payload["unplaced"]),
        total_breaks=payload["total_breaks"],
        breaks_by_participant=breaks,
        placed_weight=payload["placed_weight"],
        placed_weight_bound=payload["placed_weight_bound"],
        breaks_bound=payload["bound"],
        optimal=payload["optimal"],
        fairness_met=payload["fairness_met"],
        seconds=payload["seconds"],
        method=payload["method"],
    )
    assert validate(problem, rebuilt) == []
    assert all(1 <= m["slot"] <= 4 and 1 <= m["table"] <= 2 for m in payload["meetings"])
    assert payload["unplaced"] == []


def test_readable_summary(tmp_path: Path) -> None:
    path = write(tmp_path, INSTANCE)
    result = runner.invoke(app, ["schedule", "--dzn", str(path), "--time-limit", "5"])
    assert result.exit_code == 0
    assert "total breaks" in result.stdout


def test_malformed_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "nBusiness = 5;\nrequested = [| 1, 2 ")
    result = runner.invoke(app, ["schedule", "--dzn", str(path), "--json"])
    assert result.exit_code == 2
    assert "line 2" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schedule", "--dzn", str(tmp_path / "nope.dzn")])
    assert result.exit_code == 2
    out_of_range = INSTANCE + "fixed = [0, 9, 0, 0, 0];\n"
    result = runner.invoke(app, ["schedule", "--dzn", str(write(tmp_path, out_of_range))])
    assert result.exit_code == 2
    assert "fixed to slot 9" in result.stderr


def test_conflicts_are_reported_with_reasons_and_exit_0(tmp_path: Path) -> None:
    # Meetings 1 and 2 precede each other (a cycle); meeting 3 is fixed to slot 3, but
    # it is morning-only (slots 1-2); the rest is scheduled.
    text = INSTANCE + "precedences = [{2}, {1}, {}, {}, {}];\nfixed = [0, 0, 3, 0, 0];\n"
    result = runner.invoke(
        app, ["schedule", "--dzn", str(write(tmp_path, text)), "--json", "--time-limit", "5"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    unplaced = set(payload["unplaced"])
    assert 3 in unplaced
    assert "fixed to slot 3" in payload["reasons"]["3"]
    assert len(unplaced & {1, 2}) == 1
    cycle = next(iter(unplaced & {1, 2}))
    assert "precedence cycle" in payload["reasons"][str(cycle)]
    assert payload["placed"] == 3
    assert set(payload["reasons"]) == {str(m) for m in unplaced}


def test_bad_option_values_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, INSTANCE)
    for args in (["--fairness", "-1"], ["--time-limit", "0"], ["--method", "magic"]):
        result = runner.invoke(app, ["schedule", "--dzn", str(path), *args])
        assert result.exit_code == 2, args


def test_schedule_is_a_plain_function(tmp_path: Path, capsys: object) -> None:
    path = write(tmp_path, INSTANCE)
    schedule(dzn=path, time_limit=5.0, json_output=True)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert json.loads(out)["unplaced"] == []
