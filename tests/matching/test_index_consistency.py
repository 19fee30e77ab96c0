"""The match index agrees with the projection after any sequence of valid writes.

Profiles are drawn at random, empty fields included (a profile of only a name and a
country is valid in the registry), and applied in consumer-sized batches the way the
service applies committed events. After every batch the index must hold exactly the
latest version of every live profile, and every profile in it must answer queries.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.matching.engine.errors import EmptyQuery
from services.matching.engine.index import MatchIndex
from services.matching.engine.suggest import suggest_pairs
from services.matching.live_index import LiveIndex
from services.matching.projection import DELETED, UPSERTED, apply_event
from shared.messaging.envelope import Envelope
from shared.taxonomy import ECOSYSTEMS

IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(6)]
COUNTRIES = {"jp": "JP", "br": "BR", "kr": "KR", "eu": "FR", "in": "IN", "tn": "TN", "ma": "MA"}
# Words that make real phrases, stop words only, odd tokens and other scripts: what an
# agency may type. Empty strings and whitespace are valid too (the registry strips them).
WORDS = [
    "battery",
    "recycling",
    "valorisation",
    "déchets",
    "baterias",
    "the",
    "of",
    "and",
    "Li-ion",
    "3D",
    "x",
    "電池",
    "배터리",
    "",
    "  ",
]

phrase = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join)
phrases = st.lists(phrase, min_size=0, max_size=3)


@st.composite
def profile_data(draw: st.DrawFn, cluster_id: str, version: int) -> dict[str, Any]:
    tenant = draw(st.sampled_from(sorted(COUNTRIES)))
    data: dict[str, Any] = {
        "id": cluster_id,
        "tenant": tenant,
        "name": draw(phrase),
        "country": COUNTRIES[tenant],
        "version": version,
    }
    # Any optional field may be absent, empty or filled.
    optional = {
        "description": phrase,
        "competences": phrases,
        "technologies": phrases,
        "offers": phrases,
        "needs": phrases,
        "ecosystems": st.lists(st.sampled_from(sorted(ECOSYSTEMS)), max_size=3, unique=True),
        "nace_codes": st.lists(st.sampled_from(["C", "27.20", "38.32"]), max_size=2),
        "target_countries": st.lists(st.sampled_from(sorted(COUNTRIES.values())), max_size=2),
        "label": st.sampled_from([None, {"level": "gold", "valid_until": None}]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    return data


ops = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "upsert", "upsert", "delete", "stale", "rebuild"]),
        st.sampled_from(IDS),
    ),
    min_size=1,
    max_size=30,
)


def check_index(index: MatchIndex, expected: dict[str, int]) -> None:
    """The index holds exactly `expected` (id → version) and answers for each of them."""
    assert index.versions() == expected
    for cluster_id in expected:
        for mode in ("complementary", "similar", "balanced"):
            found = index.matches(cluster_id, mode=mode, limit=5)
            own = index.get(cluster_id).country_code
            assert all(m.cluster_id in expected for m in found)
            assert all(index.get(m.cluster_id).country_code != own for m in found)
    if len(expected) >= 2:
        suggest_pairs(index, list(expected), limit=5)
    for text in ("battery recycling", "déchets"):
        # No indexed word is a 422 for the caller, not a failure.
        with contextlib.suppress(EmptyQuery):
            index.search(text, limit=5)


def run_ops(live: LiveIndex, steps: list[tuple[str, str]], data: st.DataObject, batch: int) -> None:
    draw = data.draw
    projection: dict[str, int | None] = {}  # id → latest version (None: deleted)
    history: dict[str, list[dict[str, Any]]] = {}
    pending: list[Envelope] = []

    def flush() -> None:
        live._apply(pending)
        pending.clear()
        expected = {i: v for i, v in projection.items() if v is not None}
        check_index(live.index, expected)
        assert not live.refused

    for kind, cluster in steps:
        latest = projection.get(cluster)
        version = max([0, *(d["version"] for d in history.get(cluster, []))]) + 1
        if kind == "upsert":
            payload = draw(profile_data(cluster, version))
            history.setdefault(cluster, []).append(payload)
            projection[cluster] = version
            pending.append(Envelope(type=UPSERTED, tenant=payload["tenant"], data=payload))
        elif kind == "delete" and latest is not None:
            projection[cluster] = None
            history.setdefault(cluster, []).append({"version": version})
            pending.append(
                Envelope(
                    type=DELETED,
                    tenant="jp",
                    data={"id": cluster, "tenant": "jp", "version": version},
                )
            )
        elif kind == "stale" and history.get(cluster):
            old = history[cluster][0]
            if "tenant" in old and projection.get(cluster) != old["version"]:
                pending.append(Envelope(type=UPSERTED, tenant=old["tenant"], data=old))
        elif kind == "rebuild":
            flush()
            live.index.rebuild(refit=draw(st.booleans()))
        if len(pending) >= batch:
            flush()
    flush()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=ops, batch=st.integers(min_value=1, max_value=8), data=st.data())
def test_index_agrees_with_projection_after_any_valid_writes(
    steps: list[tuple[str, str]], batch: int, data: st.DataObject
) -> None:
    # The sessionmaker is never used here: these batches were "committed" by the test.
    live = LiveIndex(async_sessionmaker())
    run_ops(live, steps, data, batch)


def test_profile_with_only_name_and_country_is_indexed_whole() -> None:
    """The defect of issue 7 item 3: such a profile was half in the index (its matches
    failed forever) and the rest of its consumer batch never reached the index."""
    live = LiveIndex(async_sessionmaker())
    full = {
        "id": IDS[0],
        "tenant": "jp",
        "country": "JP",
        "name": "Full",
        "version": 1,
        "offers": ["battery recycling"],
        "needs": ["lithium-ion cells"],
    }
    bare = {"id": IDS[1], "tenant": "br", "country": "BR", "name": "Bare", "version": 1}
    after = {
        "id": IDS[2],
        "tenant": "kr",
        "country": "KR",
        "name": "After",
        "version": 1,
        "offers": ["lithium-ion cells"],
        "needs": ["recycling of batteries"],
    }
    live._apply([Envelope(type=UPSERTED, tenant="jp", data=full)])
    live._apply([Envelope(type=UPSERTED, tenant=d["tenant"], data=d) for d in (bare, after)])
    check_index(live.index, {IDS[0]: 1, IDS[1]: 1, IDS[2]: 1})
    assert live.index.matches(IDS[1]) == []
    assert [m.cluster_id for m in live.index.matches(IDS[0])] == [IDS[2]]


async def test_live_index_and_projection_table_agree_after_a_mixed_batch(
    database_url: str,
) -> None:
    """Through the real projection table: a batch mixing empty and full profiles, an
    update and a deletion, committed as the consumer commits it, then applied."""
    engine = create_async_engine(database_url)
    try:
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        ids = [str(uuid.uuid4()) for _ in range(5)]

        def env(i: int, version: int, **fields: Any) -> Envelope:
            data = {
                "id": ids[i],
                "tenant": "br",
                "country": "BR",
                "name": f"c{i}",
                "version": version,
                **fields,
            }
            return Envelope(type=UPSERTED, tenant="br", data=data)

        batch = [
            env(0, 1),
            env(1, 1, offers=["battery recycling"], needs=["cells"]),
            env(2, 1, description="", competences=[], offers=[""], needs=["  "]),
            env(3, 1, needs=["the of and"]),
            env(1, 2, offers=["black mass refining"]),
            env(4, 1, technologies=["hydrometallurgy"]),
            Envelope(type=DELETED, tenant="br", data={"id": ids[4], "tenant": "br", "version": 2}),
        ]
        live = LiveIndex(sessionmaker)
        await live.load()
        async with sessionmaker() as s, s.begin():
            for e in batch:
                await apply_event(s, e)
        await live.apply(batch)
        wrong = await live.disagreements()
        assert not {i: v for i, v in wrong.items() if i in ids}
        assert live.index.versions().get(ids[1]) == 2
        assert ids[4] not in live.index
        for i in ids[:4]:
            live.index.matches(i)
        # And a restart from the table gives the same index for these clusters.
        again = LiveIndex(sessionmaker)
        await again.load()
        assert {i: again.index.versions().get(i) for i in ids} == {
            i: live.index.versions().get(i) for i in ids
        }
    finally:
        await engine.dispose()


def test_an_error_on_one_event_loses_none_of_the_others_in_its_batch() -> None:
    live = LiveIndex(async_sessionmaker())
    good = {"id": IDS[0], "tenant": "jp", "country": "JP", "name": "Good", "version": 1}
    other = {"id": IDS[2], "tenant": "kr", "country": "KR", "name": "Other", "version": 1}
    live._apply([Envelope(type=UPSERTED, tenant="br", data={**good, "id": IDS[1]})])
    # No country: the engine cannot use it (the projection refuses such data; here it
    # stands for any error while applying one event).
    broken = {"id": IDS[1], "tenant": "br", "name": "Broken", "version": 2}
    live._apply(
        [Envelope(type=UPSERTED, tenant=d["tenant"], data=d) for d in (good, broken, other)]
    )
    assert live.index.versions() == {IDS[0]: 1, IDS[2]: 1}  # the stale copy of IDS[1] is gone
    assert "country" in live.refused[IDS[1]]
    assert live.describe()["refused_count"] == 1
    # A later valid version brings it back and clears the record.
    fixed = {**broken, "country": "BR", "version": 3}
    live._apply([Envelope(type=UPSERTED, tenant="br", data=fixed)])
    assert live.index.versions()[IDS[1]] == 3
    assert not live.refused
