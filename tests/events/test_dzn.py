"""The .dzn reader: the syntax the instances use, conversion, and clear errors."""

from __future__ import annotations

import pytest

from services.events.scheduling.dzn import DznError, parse_dzn, problem_from_dzn

SMALL = """
% a comment line
nBusiness = 4;  % trailing comment
nMeetings = 3;
nTables = 2;
nTotalSlots = 4;
nMorningSlots = 2;
requested = [| 1, 2, 3,
             | 3, 1, 1,
             | 4, 2, 2, |];
forbidden = [{0}, {}, {0, 4}, {1..2}];
fixed = [0, 3, 0];
precedences = [{}, {}, {1}];
meetingsxBusiness = [{1,2},{1,3},{2},{3}];
"""


def test_parses_the_instance_syntax() -> None:
    fields = parse_dzn(SMALL)
    assert fields["nBusiness"][0] == 4
    assert fields["forbidden"][0] == (
        frozenset({0}),
        frozenset(),
        frozenset({0, 4}),
        frozenset({1, 2}),
    )
    assert fields["nTables"][1] == 5  # line of the assignment


def test_converts_to_a_problem_numbering_slots_from_zero() -> None:
    problem = problem_from_dzn(SMALL, fairness=1)
    assert problem.n_slots == 4
    assert problem.session_of_slot == (0, 0, 1, 1)
    assert [p.id for p in problem.participants] == [1, 2, 3, 4]
    assert problem.participants[2].unavailable == frozenset({3})
    assert problem.participants[3].unavailable == frozenset({0, 1})
    first, second, third = problem.meetings
    assert (first.id, first.a, first.b, first.sessions) == (1, 1, 2, None)
    assert second.sessions == frozenset({0})
    assert second.fixed_slot == 2
    assert third.sessions == frozenset({1})
    assert third.after == frozenset({1})
    assert problem.fairness == 1


def test_optional_fields_may_be_missing() -> None:
    text = "nBusiness=2; nTables=1; nTotalSlots=3; requested=[|1,2|];"
    problem = problem_from_dzn(text)
    assert problem.session_of_slot == (0, 0, 0)
    assert problem.meetings[0].sessions is None
    assert problem.meetings[0].fixed_slot is None


def test_array1d_and_array2d_forms() -> None:
    text = (
        "nBusiness=2; nTables=1; nTotalSlots=2;\n"
        "requested=array2d(1..1, 1..3, [1, 2, 3]);\n"
        "forbidden=array1d(1..2, [{}, {2}]);"
    )
    problem = problem_from_dzn(text)
    assert problem.meetings[0].a == 1
    assert problem.participants[1].unavailable == frozenset({1})


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("nBusiness = 2;\nnTables = ;", 2),
        ("nBusiness = 2;\nnTables = 1\nnTotalSlots = 2;", 3),
        ("nBusiness = 2;\n\nrequested = [| 1, 2 | 1, 2, 3 |];", 3),
        ("nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 3, 3 |];", 4),
        ("nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 1, 3 |];", 4),
        ("nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 2, 7 |];", 4),
        (
            "nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 2, 3 |];\n"
            "forbidden = [{0}];",
            5,
        ),
        (
            "nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 2, 3 |];\n"
            "forbidden = [{0}, {9}];",
            5,
        ),
        (
            "nBusiness = 2;\nnTables = 1;\nnTotalSlots = 2;\nrequested = [| 1, 2, 3 |];\n"
            "nMeetings = 4;",
            5,
        ),
        ("nBusiness = 2;\nnBusiness = 3;", 2),
        ("nBusiness = 2 $", 1),
        ("nBusiness = {1, 2", 1),
        ("nBusiness = 2;\nrequested = [| 1, 2, 3 ];", 2),
    ],
)
def test_malformed_input_names_the_line(text: str, line: int) -> None:
    with pytest.raises(DznError, match=rf"^line {line}:"):
        problem_from_dzn(text)


def test_missing_required_field() -> None:
    with pytest.raises(DznError, match="nTables"):
        problem_from_dzn("nBusiness = 2; nTotalSlots = 2; requested = [| 1, 2 |];")
