"""A profile whose own words are new to the index's vocabulary is found by them soon.

The vocabulary is fitted on the profiles of the day; a refit came only after many
upserts or a large share of unknown words. So the one new cluster about a rare
technology, among ordinary ones, was not found by its own words: the word pre-ranking
knew none of them and the candidates were the ordinary profiles. The live index now
refits shortly after such words arrive.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from services.matching.engine.documents import Profile
from services.matching.engine.errors import EmptyQuery
from services.matching.live_index import LiveIndex
from services.matching.projection import UPSERTED
from shared.db.engine import create_sessionmaker
from shared.messaging.envelope import Envelope
from tests.harness import Platform, eventually


def invented_word() -> str:
    """Letters only (the vocabulary keeps no digits): a word no profile had before."""
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:12])


def payload(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant": "kr",
        "name": "Battery cluster",
        "country": "KR",
        "description": "Firms that make battery cells.",
        "ecosystems": ["mobility-transport-automotive"],
        "competences": ["battery cell design", "power electronics"],
        "technologies": ["solid-state batteries"],
        "offers": ["pilot lines for cell testing"],
        "needs": ["battery recycling partners"],
        "version": 1,
    }
    data.update(fields)
    return data


async def test_a_profile_is_found_by_words_new_to_the_vocabulary(platform: Platform) -> None:
    engine = create_async_engine(platform.database_url)
    live = LiveIndex(create_sessionmaker(engine))
    try:
        # More ordinary profiles than a query scores in full, fitted before the new one.
        live.index.build([Profile.from_event_data(payload()) for _ in range(300)])
        rare, other = invented_word(), invented_word()
        novel = payload(name="Coating lab", competences=[f"{rare} {other} coating"])
        later = [payload() for _ in range(10)] + [novel]
        await live.apply([Envelope(type=UPSERTED, tenant="kr", data=d) for d in later])
        assert live.index.new_words > 0
        assert not live.index.needs_refit  # the old policy alone would wait

        async def found() -> tuple[int, list[str]]:
            # Word pieces may find it by luck before the refit: what counts is that the
            # refit comes by itself, and that the profile then ranks first.
            try:
                hits = live.index.search(f"{rare} {other}", limit=5)
            except EmptyQuery:  # none of the words is known yet
                return live.index.new_words, []
            return live.index.new_words, [h.cluster_id for h in hits]

        _, ids = await eventually(
            found, until=lambda r: r[0] == 0 and novel["id"] in r[1], timeout=30
        )
        assert ids[0] == novel["id"]
        # A refit waiting to start is dropped when the service stops.
        fresh = payload(competences=[f"{invented_word()} {invented_word()}"])
        await live.apply([Envelope(type=UPSERTED, tenant="kr", data=fresh)])
        assert live._refit_soon is not None
        await live.close()
        assert live._refit_soon is None
    finally:
        await engine.dispose()
