"""MatchIndex behaviour on a small hand-made set of profiles (no timing, no services)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import scipy.sparse

from services.matching.engine import explain, semantic, sparse_ops, store
from services.matching.engine.documents import Profile
from services.matching.engine.errors import EmptyQuery, InvalidQuery, UnknownCluster
from services.matching.engine.filters import Filters
from services.matching.engine.index import MatchIndex
from services.matching.engine.suggest import suggest_pairs
from shared.taxonomy import LabelLevel

EU = {"DE", "FR", "PL", "PT", "CZ", "NL", "IT", "ES"}
SECRET = "contact-secret@example.org"


def prof(
    pid: str,
    country: str,
    *,
    eco: Iterable[str] = ("mobility-transport-automotive",),
    comp: Iterable[str] = (),
    tech: Iterable[str] = (),
    offers: Iterable[str] = (),
    needs: Iterable[str] = (),
    label: str = "none",
    targets: Iterable[str] = (),
    nace: Iterable[str] = (),
    desc: str = "",
    version: int = 1,
) -> Profile:
    data: dict[str, Any] = {
        "id": pid,
        "tenant": "eu" if country in EU else country.lower(),
        "name": f"Cluster {pid}",
        "country": country,
        "description": desc,
        "ecosystems": list(eco),
        "nace_codes": list(nace),
        "competences": list(comp),
        "technologies": list(tech),
        "offers": list(offers),
        "needs": list(needs),
        "target_countries": list(targets),
        "label": {"level": label, "valid_until": None},
        "verified": True,
        "version": version,
        # A private field the registry would never publish; the engine must ignore it.
        "contact_email": SECRET,
    }
    return Profile.from_event_data(data)


ASKER_NEEDS = ("battery recycling", "solid-state electrolytes")
ASKER_OFFERS = ("battery management systems", "EV charging infrastructure")


def dataset() -> list[Profile]:
    return [
        prof(
            "asker",
            "DE",
            comp=("battery cell manufacturing", "battery management systems"),
            tech=("lithium-ion cells",),
            offers=ASKER_OFFERS,
            needs=ASKER_NEEDS,
            nace=("27.20", "29.31"),
            targets=("KR",),
            desc="Automotive battery cluster in Saxony.",
        ),
        # The complementary partner: offers what asker needs and needs what asker offers,
        # in other words and inflections.
        prof(
            "partner",
            "KR",
            comp=("recycling of batteries", "cathode materials"),
            tech=("hydrometallurgy",),
            offers=("recycling of spent Li-ion batteries", "solid electrolytes for cells"),
            needs=("BMS electronics for battery packs", "charging stations for electric cars"),
            nace=("38.32", "27.20"),
            desc="Korean cluster for battery materials.",
        ),
        # A peer: same competences, same needs and offers as asker (competitor, not trader).
        prof(
            "peer",
            "FR",
            comp=("battery cell manufacturing", "battery management systems"),
            tech=("lithium-ion cells",),
            offers=ASKER_OFFERS,
            needs=ASKER_NEEDS,
            nace=("27.20", "29.31"),
            desc="Automotive battery cluster in Grenoble.",
        ),
        # One-sided: has what asker needs, wants nothing asker has.
        prof(
            "onesided",
            "JP",
            comp=("battery recycling",),
            offers=("battery recycling",),
            needs=("olive oil milling",),
            label="gold",
        ),
        # Perfect complement but in asker's own country.
        prof(
            "compatriot",
            "DE",
            comp=("battery recycling",),
            offers=("battery recycling plants", "solid-state electrolytes"),
            needs=("battery management systems", "EV charging infrastructure"),
        ),
        prof(
            "agri",
            "TN",
            eco=("agri-food",),
            comp=("olive oil production", "food packaging"),
            offers=("olive-oil milling",),
            needs=("cold chain logistics",),
            label="silver",
        ),
        prof(
            "health",
            "MA",
            eco=("health",),
            comp=("medical imaging",),
            offers=("diagnostic imaging devices",),
            needs=("clinical trials",),
            label="bronze",
        ),
        prof(
            "digital",
            "IN",
            eco=("digital",),
            comp=("machine learning", "computer vision"),
            offers=("visual inspection by cameras and AI",),
            needs=("5G networks",),
            label="gold",
        ),
        prof(
            "textile",
            "PT",
            eco=("textiles",),
            comp=("technical textiles",),
            offers=("recycled fibres from garments",),
            needs=("sustainable dyeing",),
        ),
    ]


@pytest.fixture
def index() -> MatchIndex:
    ix = MatchIndex()
    ix.build(dataset())
    return ix


def ids(matches: Iterable[Any]) -> list[str]:
    return [m.cluster_id for m in matches]


# --- ranking -----------------------------------------------------------------------------


def test_planted_complementary_pair_ranks_first_both_ways(index: MatchIndex) -> None:
    assert ids(index.matches("asker", mode="complementary"))[0] == "partner"
    assert ids(index.matches("partner", mode="complementary"))[0] == "asker"
    # balanced (the default) weighs peers as much as traders: both lead
    assert set(ids(index.matches("asker"))[:2]) == {"partner", "peer"}


def test_similar_and_complementary_modes_order_differently(index: MatchIndex) -> None:
    similar = ids(index.matches("asker", mode="similar"))
    complementary = ids(index.matches("asker", mode="complementary"))
    assert similar[0] == "peer"
    assert complementary[0] == "partner"
    assert complementary.index("peer") > complementary.index("partner")
    top = index.matches("asker", mode="complementary")[0]
    assert top.components["need_to_offer"] > 0
    assert top.components["offer_to_need"] > 0


def test_mutual_fit_beats_one_sided_fit(index: MatchIndex) -> None:
    ranked = ids(index.matches("asker", mode="complementary"))
    assert ranked.index("partner") < ranked.index("onesided")


# --- filters -----------------------------------------------------------------------------


def test_own_country_and_self_are_excluded_by_default(index: MatchIndex) -> None:
    default = ids(index.matches("asker", limit=20))
    assert "compatriot" not in default
    assert "asker" not in default
    with_home = ids(
        index.matches("asker", limit=20, filters=Filters.make(exclude_own_country=False))
    )
    assert "compatriot" in with_home
    assert "asker" not in with_home


def test_country_tenant_ecosystem_and_label_filters(index: MatchIndex) -> None:
    jp = index.matches("asker", limit=20, filters=Filters.make(countries=["jp"]))
    assert ids(jp) == ["onesided"]
    kr = index.matches("asker", limit=20, filters=Filters.make(tenants=["KR"]))
    assert ids(kr) == ["partner"]
    auto = index.matches(
        "asker", limit=20, filters=Filters.make(ecosystems=["mobility-transport-automotive"])
    )
    assert set(ids(auto)) == {"partner", "peer", "onesided"}
    # Unrelated clusters are not padded in just to fill the list.
    agri = index.matches("asker", limit=20, filters=Filters.make(ecosystems=["agri-food"]))
    assert agri == []
    silver = index.matches("asker", limit=20, filters=Filters.make(min_label="silver"))
    assert ids(silver) == ["onesided"]
    for m in index.matches("agri", limit=20, filters=Filters.make(min_label="silver")):
        assert index.get(m.cluster_id).label.rank >= LabelLevel.SILVER.rank
    nobody = index.matches("asker", filters=Filters.make(countries=["US"]))
    assert nobody == []


# --- live updates --------------------------------------------------------------------------


def test_upsert_makes_a_new_profile_findable(index: MatchIndex) -> None:
    newcomer = prof(
        "newcomer",
        "CZ",
        offers=("recycled battery materials", "solid state electrolytes"),
        needs=("battery management system", "charging infrastructure for EVs"),
    )
    assert "newcomer" not in ids(index.matches("asker", limit=20))
    assert index.upsert(newcomer) is True
    assert "newcomer" in index
    assert len(index) == 10
    assert ids(index.matches("asker", mode="complementary"))[:2] == ["partner", "newcomer"] or (
        ids(index.matches("asker", mode="complementary"))[:2] == ["newcomer", "partner"]
    )
    assert ids(index.matches("newcomer", mode="complementary"))[0] == "asker"
    assert "newcomer" in ids(index.search("recycled batteries", limit=5))


def test_update_changes_results_and_stale_versions_are_ignored(index: MatchIndex) -> None:
    moved_on = prof(
        "partner",
        "KR",
        eco=("agri-food",),
        offers=("olive-oil milling",),
        needs=("cold chain logistics",),
        version=2,
    )
    assert index.upsert(moved_on) is True
    assert ids(index.matches("asker", mode="complementary"))[0] != "partner"
    assert index.applied_version("partner") == 2
    stale = dataset()[1]  # version 1 of partner
    assert index.upsert(stale) is False
    assert index.get("partner").offers == ("olive-oil milling",)
    assert len(index) == 9


def test_remove(index: MatchIndex) -> None:
    assert index.remove("partner", version=2) is True
    assert "partner" not in index
    assert "partner" not in ids(index.matches("asker", limit=20))
    with pytest.raises(UnknownCluster):
        index.matches("partner")
    assert index.remove("partner") is False
    # An upsert older than the delete is a late message: ignored.
    assert index.upsert(dataset()[1]) is False
    assert "partner" not in index


def test_rebuild_refit_and_compaction_keep_results(index: MatchIndex) -> None:
    before = ids(index.matches("asker", mode="complementary"))
    index.remove("textile")
    index.upsert(prof("extra", "NL", offers=("battery recycling",), needs=("hydrogen",)))
    assert index.stats().dead_rows == 1
    assert index.stats().delta_rows == 1
    index.rebuild(refit=False)
    stats = index.stats()
    assert stats.dead_rows == 0
    assert stats.delta_rows == 0
    assert stats.rows == 9
    after = ids(index.matches("asker", mode="complementary"))
    assert after[0] == before[0] == "partner"
    index.rebuild(refit=True)
    assert ids(index.matches("asker", mode="complementary"))[0] == "partner"
    assert index.stats().upserts_since_build == 0


def test_changes_during_a_rebuild_are_replayed(
    index: MatchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.compact_state
    late = prof("late", "IT", offers=("battery recycling",), needs=("battery management",))

    def compact_while_events_arrive(*args: Any, **kwargs: Any) -> Any:
        # The rebuild works outside the lock: events keep being applied meanwhile.
        index.upsert(late)
        index.remove("health")
        return real(*args, **kwargs)

    monkeypatch.setattr("services.matching.engine.index.compact_state", compact_while_events_arrive)
    index.rebuild(refit=False)
    assert "late" in ids(index.matches("asker", limit=20))
    assert "health" not in index
    assert "health" not in ids(index.matches("asker", limit=20))


def test_empty_index_accepts_a_first_upsert() -> None:
    ix = MatchIndex()
    assert ix.search("battery") == []
    ix.upsert(prof("a", "DE", offers=("battery recycling",), needs=("cathodes",)))
    ix.upsert(prof("b", "FR", offers=("cathodes",), needs=("recycling of batteries",)))
    assert ids(ix.matches("a")) == ["b"]


# --- explanations --------------------------------------------------------------------------


def test_explanations_name_matched_phrases_and_terms(index: MatchIndex) -> None:
    top = index.matches("asker", mode="complementary")[0]
    needs_reason = [r for r in top.reasons if r.your_field == "needs" and r.their_field == "offers"]
    assert any(
        r.your_text == "battery recycling"
        and r.their_text == "recycling of spent Li-ion batteries"
        and "recycling" in r.shared_terms
        for r in needs_reason
    )
    assert any("battery~batteries" in r.shared_terms for r in needs_reason)
    offers_reason = [r for r in top.reasons if r.your_field == "offers"]
    assert offers_reason, "the other direction (your offer ↔ their need) is explained too"
    assert any("battery recycling" in line and "Li-ion" in line for line in top.explanation)


def test_explanations_use_only_public_fields(index: MatchIndex) -> None:
    for mode in ("complementary", "similar", "balanced"):
        for m in index.matches("asker", mode=mode, limit=20):
            mine, theirs = index.get("asker"), index.get(m.cluster_id)
            for r in m.reasons:
                assert SECRET not in r.text
                if r.your_text is not None and r.your_field in (
                    "needs",
                    "offers",
                    "competences",
                    "technologies",
                ):
                    assert r.your_text in mine.phrases(r.your_field)
                if r.their_text is not None and r.their_field in (
                    "needs",
                    "offers",
                    "competences",
                    "technologies",
                ):
                    assert r.their_text in theirs.phrases(r.their_field)
    assert not hasattr(index.get("asker"), "contact_email")


# --- search ----------------------------------------------------------------------------------


def test_search_finds_inflections_and_variants(index: MatchIndex) -> None:
    index.upsert(prof("liion", "ES", offers=("Li-ion batteries for buses",)))
    found = ids(index.search("battery", limit=20))
    assert "liion" in found  # "batteries" for "battery"
    assert "partner" in found  # "Li-ion batteries"
    assert "agri" not in found
    assert ids(index.search("Li-ion", limit=3))[0] in {"liion", "partner"}
    hit = next(m for m in index.search("battery", limit=20) if m.cluster_id == "liion")
    assert any("battery~batteries" in r.shared_terms for r in hit.reasons)


def test_search_understands_country_names(index: MatchIndex) -> None:
    found = index.search("battery recycling partners in Korea")
    assert ids(found) == ["partner"]
    assert ids(index.search("battery recycling in Japan")) == ["onesided"]


def test_search_rejects_empty_text(index: MatchIndex) -> None:
    for text in ("", "   "):
        with pytest.raises(EmptyQuery):
            index.search(text)
    with pytest.raises(ValueError, match="nothing searchable"):
        index.search("the of and")


# --- suggestions -------------------------------------------------------------------------------


def test_suggest_pairs_for_event_participants(index: MatchIndex) -> None:
    people = ["asker", "peer", "partner", "compatriot", "agri", "health"]
    pairs = suggest_pairs(index, people, limit=5)
    assert len(pairs) == 5
    # compatriot/peer mirror asker/partner (peer is asker's clone, abroad)
    assert {frozenset((p.a, p.b)) for p in pairs[:2]} == {
        frozenset(("asker", "partner")),
        frozenset(("compatriot", "peer")),
    }
    assert pairs[0].reasons
    scores = [p.score for p in pairs]
    assert scores == sorted(scores, reverse=True)
    for p in pairs:
        assert index.get(p.a).country_code != index.get(p.b).country_code
    assert {("asker", "compatriot")} & {(p.a, p.b) for p in pairs} == set()
    assert suggest_pairs(index, ["asker"], limit=5) == []
    with pytest.raises(UnknownCluster):
        suggest_pairs(index, ["asker", "ghost"], limit=5)
    with pytest.raises(InvalidQuery):
        suggest_pairs(index, people, limit=0)


# --- bad input -----------------------------------------------------------------------------------


def test_unknown_cluster_is_a_key_error(index: MatchIndex) -> None:
    with pytest.raises(UnknownCluster) as caught:
        index.matches("ghost")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(KeyError):
        index.get("ghost")


@pytest.mark.parametrize("limit", [0, -1, 101, True])
def test_limit_out_of_range(index: MatchIndex, limit: int) -> None:
    with pytest.raises(InvalidQuery):
        index.matches("asker", limit=limit)
    with pytest.raises(ValueError, match="limit"):
        index.search("battery", limit=limit)


def test_bad_mode_and_filters(index: MatchIndex) -> None:
    with pytest.raises(InvalidQuery):
        index.matches("asker", mode="opposite")
    with pytest.raises(InvalidQuery):
        Filters.make(ecosystems=["space-mining"])
    with pytest.raises(InvalidQuery):
        Filters.make(min_label="platinum")


def test_profile_from_minimal_event_data() -> None:
    uid = uuid.uuid4()
    p = Profile.from_event_data({"id": uid, "tenant": "JP", "country": "jp"})
    assert p.id == str(uid)
    assert p.tenant == "jp"
    assert p.country_code == "JP"
    assert p.offers == ()
    assert p.label is LabelLevel.NONE
    assert p.version == 0
    q = Profile.from_event_data(
        {"id": "x", "tenant": "eu", "country": "DE", "label": "gold", "needs": [" a ", ""]}
    )
    assert q.label is LabelLevel.GOLD
    assert q.needs == ("a",)
    with pytest.raises(ValueError, match="country"):
        Profile.from_event_data({"id": "x", "tenant": "eu"})


# --- learned relatedness -------------------------------------------------------------------

# (what a cluster does, how it words its offer): no word in common within a family.
FAMILIES = (
    ("air traffic management", "ATM systems for airspace"),
    ("rolling stock engineering", "rail vehicles and trains"),
    ("aquaculture", "fish farming"),
    ("solar photovoltaics", "PV modules"),
    ("garment manufacturing", "apparel production"),
)


def related_wording_index() -> MatchIndex:
    """Fillers restate their competence as an offer in other words; the asker needs family
    0 in competence wording and the partner offers it in offer wording."""
    profiles = [
        prof(f"f{k}-{i}", "IT", comp=[comp], offers=[offer])
        for k, (comp, offer) in enumerate(FAMILIES)
        for i in range(4)
    ]
    profiles += [
        prof("asker", "DE", needs=[FAMILIES[0][0]], offers=[FAMILIES[1][0]]),
        prof("partner", "FR", offers=[FAMILIES[0][1]], needs=[FAMILIES[1][1]]),
        prof("other", "ES", offers=[FAMILIES[2][1]], needs=[FAMILIES[3][1]]),
    ]
    index = MatchIndex()
    index.build(profiles)
    return index


def test_learned_relatedness_links_different_wordings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A toy corpus cannot reach the production evidence thresholds (tuned for thousands
    # of profiles); lowered, the mechanism is the same.
    monkeypatch.setattr(semantic, "MIN_COOCCURRENCE", 3)
    monkeypatch.setattr(semantic, "MIN_PMI", 1.0)
    index = related_wording_index()
    top = index.matches(
        "asker", mode="complementary", filters=Filters(countries=frozenset({"FR", "ES"}))
    )
    assert top[0].cluster_id == "partner"
    assert top[0].components["need_to_offer"] > 0.5
    assert top[0].components["offer_to_need"] > 0.5
    reason = next(r for r in top[0].reasons if r.your_field == "needs")
    assert reason.your_text == FAMILIES[0][0]
    assert reason.their_text == FAMILIES[0][1]
    assert reason.shared_terms == ()
    assert "related wording" in reason.text
    # Upserts are projected with the fitted relation: a new cluster in offer wording is
    # found the same way.
    index.upsert(prof("late", "PL", offers=[FAMILIES[0][1]], needs=[FAMILIES[1][1]]))
    scored = index.score_pairs("asker", ["late", "other"], mode="complementary")
    assert [m.cluster_id for m in scored] == ["late", "other"]
    assert scored[0].components["need_to_offer"] > 0.5


def test_without_corpus_evidence_wording_alone_decides() -> None:
    index = related_wording_index()  # production thresholds: nothing is learned here
    [partner] = index.score_pairs("asker", ["partner"], mode="complementary")
    assert partner.components["need_to_offer"] == 0.0
    assert not [r for r in partner.reasons if r.your_field == "needs"]


def test_relatedness_is_symmetric_and_identity_without_evidence() -> None:
    # Rows are clusters; what they do (term 0 or 2) and what they offer (term 1 or 3).
    does = scipy.sparse.csr_matrix(np.array([[1, 0, 0, 0]] * 20 + [[0, 0, 1, 0]] * 300))
    offers = scipy.sparse.csr_matrix(np.array([[0, 1, 0, 0]] * 20 + [[0, 0, 0, 1]] * 300))
    rel = semantic.Relatedness.fit(does, offers)
    e = rel.expansion.toarray()
    np.testing.assert_allclose(e, e.T)
    assert e[0, 1] > 0  # rare pair far above chance: related
    assert e[2, 3] == 0  # present in most rows: not above chance
    np.testing.assert_allclose(np.diag(e), 1.0)
    small = semantic.Relatedness.fit(does[:10], offers[:10])
    assert small.related_pairs == 0


def test_rows_dot_fast_and_public_routes_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    m = scipy.sparse.random(50, 40, density=0.2, format="csr", dtype=np.float32, rng=rng)
    rows = np.array([3, 0, 49, 3, 17], dtype=np.int64)
    q = rng.random((40, 3)).astype(np.float32)
    expected = m.toarray()[rows] @ q
    np.testing.assert_allclose(sparse_ops.rows_dot(m, rows, q), expected, rtol=1e-5)
    monkeypatch.setattr(sparse_ops, "_tools", None)
    np.testing.assert_allclose(sparse_ops.rows_dot(m, rows, q), expected, rtol=1e-5)


def test_columns_dot_fast_and_public_routes_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    m = scipy.sparse.random(60, 30, density=0.2, format="csc", dtype=np.float32, rng=rng)
    cols = np.array([0, 7, 29, 12], dtype=np.int64)
    vals = rng.random(4).astype(np.float32)
    expected = m.toarray()[:, cols] @ vals
    np.testing.assert_allclose(sparse_ops.columns_dot(m, cols, vals), expected, rtol=1e-5)
    monkeypatch.setattr(sparse_ops, "_tools", None)
    np.testing.assert_allclose(sparse_ops.columns_dot(m, cols, vals), expected, rtol=1e-5)


def test_batched_phrase_scores_equal_pairwise_ones() -> None:
    mine = ["battery recycling", "Li-ion cells", "of the"]
    theirs = ["recycling of spent Li-ion batteries", "solar panels", "battery recyclers", ""]
    batched = explain.score_matrix(mine, theirs)
    for i, a in enumerate(mine):
        for j, b in enumerate(theirs):
            assert batched[i, j] == pytest.approx(explain.phrase_similarity(a, b)[0], abs=1e-6)
    assert batched[0, 0] > 0.2
