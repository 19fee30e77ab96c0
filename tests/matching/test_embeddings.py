"""The engine with the real embedding model, without the service around it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from services.matching.engine.documents import Profile
from services.matching.engine.embeddings import CachedEncoder, ProfileVectors, embed_profiles
from services.matching.engine.encoders import UseEncoder
from services.matching.engine.index import MatchIndex


@pytest.fixture(scope="module")
def encoder() -> CachedEncoder:
    return CachedEncoder(UseEncoder())


def profile(ident: str, country: str, **fields: object) -> Profile:
    data: dict[str, object] = {"id": ident, "tenant": "eu", "country": country, "version": 1}
    data.update(fields)
    return Profile.from_event_data(data)


FRENCH = profile(
    "fr",
    "FR",
    name="Pôle oléicole",
    languages=["fr"],
    offers=["huile d'olive biologique en vrac"],
    needs=["machines d'emballage et de conditionnement"],
)
ENGLISH = profile(
    "jp",
    "JP",
    name="Osaka packaging makers",
    offers=["packaging and bottling machinery for food producers"],
    needs=["suppliers of extra virgin olive oil"],
)
SAME_COUNTRY = profile(
    "fr2",
    "FR",
    name="Emballeurs d'Occitanie",
    offers=["machines d'emballage et de conditionnement"],
    needs=["huile d'olive biologique en vrac"],
)
UNRELATED = profile(
    "kr",
    "KR",
    name="Aviation academy",
    offers=["training courses for aircraft maintenance technicians"],
    needs=["internships abroad for trainee technicians"],
)


def test_stored_bytes_give_back_the_same_vectors(encoder: CachedEncoder) -> None:
    v = embed_profiles(encoder, [FRENCH])[0]
    back = ProfileVectors.from_bytes(v.model, v.version, encoder.dim, v.to_bytes())
    for field in ("about", "needs", "offers"):
        assert back.field(field).shape == v.field(field).shape
    assert float(back.needs[0] @ v.needs[0]) > 0.999
    assert back.fits(FRENCH, encoder.name)
    with pytest.raises(ValueError, match="multiples"):
        ProfileVectors.from_bytes(v.model, 1, encoder.dim, {**v.to_bytes(), "needs": b"abcd"})


def test_a_need_in_french_meets_an_offer_in_english_abroad_only(encoder: CachedEncoder) -> None:
    index = MatchIndex(encoder=encoder)
    index.build([FRENCH, ENGLISH, SAME_COUNTRY, UNRELATED])
    found = index.matches("fr", mode="complementary", limit=5)
    assert [m.cluster_id for m in found][:1] == ["jp"]
    assert "fr2" not in [m.cluster_id for m in found]  # the own-country twin stays out
    assert "kr" not in [m.cluster_id for m in found]
    lexical = MatchIndex()
    lexical.build([FRENCH, ENGLISH, SAME_COUNTRY, UNRELATED])
    # Their offer answers my need only by meaning: words see nothing on that side.
    (plain,) = lexical.score_pairs("fr", ["jp"], mode="complementary")
    (meant,) = index.score_pairs("fr", ["jp"], mode="complementary")
    assert plain.components["need_to_offer"] < 0.1
    assert meant.components["need_to_offer"] > 0.5
    assert not any("your need" in t for t in meant.explanation)  # the reader is French
    assert any("votre besoin" in t and "même concept" in t for t in meant.explanation)


def test_vectors_that_do_not_fit_are_recomputed_and_removal_forgets(
    encoder: CachedEncoder,
) -> None:
    index = MatchIndex(encoder=encoder)
    old = embed_profiles(encoder, [ENGLISH])[0]
    index.build([FRENCH, ENGLISH, UNRELATED], {"jp": old})
    assert index.embedded_at_build == 2
    changed = replace(ENGLISH, version=2, offers=("flight simulator maintenance",))
    before = encoder.texts_encoded
    assert index.upsert(changed, old)  # stale: version 1, other phrases
    assert encoder.texts_encoded > before
    now = index.vectors("jp")
    assert now is not None
    assert now.version == 2
    assert now.offers.shape == (1, encoder.dim)
    # Their new offer no longer answers my need: the new vectors are the ones used.
    (pair,) = index.score_pairs("fr", ["jp"], mode="complementary")
    assert pair.components["need_to_offer"] < 0.1
    assert index.remove("kr")
    assert index.vectors("kr") is None
    assert all(m.cluster_id != "kr" for m in index.matches("fr", limit=10))


def test_odd_text_embeds_without_error(encoder: CachedEncoder) -> None:
    odd = profile(
        "odd",
        "BR",
        name="x",
        description="🔋🔋🔋 " * 200,
        competences=["—", "ñandú çà ü", "A" * 5000],
        needs=["?"],
    )
    index = MatchIndex(encoder=encoder)
    index.build([odd, FRENCH])
    v = index.vectors("odd")
    assert v is not None
    assert np.isfinite(v.profile).all()
    index.matches("odd", limit=5)
    index.matches("fr", limit=5)
