"""A run beyond the events service's limit of scheduler runs at once is told when to
come back (503, Retry-After) and stores nothing; the slot freed, the same run works."""

from __future__ import annotations

import contextlib

from services.events.state import EventsState
from tests.events.helpers import assert_problem, ok, one_meeting_event
from tests.harness import Platform


async def test_a_run_beyond_the_limit_is_told_when_to_come_back(platform: Platform) -> None:
    eid = await one_meeting_event(platform)
    state = platform.services["events"].app.state.runtime.state
    assert isinstance(state, EventsState)
    gate = state.scheduler
    with contextlib.ExitStack() as busy:
        # Other organisers' runs hold every slot (one of them due in about 20 s).
        for _ in range(gate.size):
            busy.enter_context(gate.slot(20.0))
        async with platform.client("eu") as c:
            r = await c.post(
                f"/v1/events/{eid}/schedules",
                json={"time_limit": 2},
                headers={"idempotency-key": "busy-run-1"},
            )
            problem = assert_problem(r, 503)
            assert "busy" in problem["detail"]
            assert 1 <= int(r.headers["retry-after"]) <= 20
            assert ok(await c.get(f"/v1/events/{eid}/schedules"))["items"] == []
        # Whoever may not run it is told that, not that the scheduler is busy.
        async with platform.client("br") as c:
            assert_problem(await c.post(f"/v1/events/{eid}/schedules", json={}), 403)
        async with platform.client("jp") as c:
            assert_problem(await c.post(f"/v1/events/{eid}/schedules", json={}), 403)
    assert gate.ends == []
    async with platform.client("eu") as c:
        # The refused attempt left its key free: the same key now runs the scheduler.
        run = ok(
            await c.post(
                f"/v1/events/{eid}/schedules",
                json={"time_limit": 2},
                headers={"idempotency-key": "busy-run-1"},
            ),
            201,
        )
        assert run["placed"] == 1
        listed = ok(await c.get(f"/v1/events/{eid}/schedules"))["items"]
        assert [s["id"] for s in listed] == [run["id"]]
    assert gate.ends == []
