"""Seeded synthetic cluster profiles for the matching benchmark, with planted partners.

Each ecosystem has a vocabulary of *concepts*; each concept has several phrasings that
differ in wording and inflection ("battery recycling" / "recycling of spent Li-ion
batteries" / "recycled battery materials"). Profiles draw competences, technologies,
offers and needs from these concepts, always through a random phrasing, so the same
thing is rarely written the same way twice.

Offers and needs often carry a qualifier (what or whom for: "for SMEs", "for public
transport"), itself phrased in variants.

A *planted pair* (A, B) is made so that B offers all three things A needs and A offers
all three things B needs, each concept (and qualifier) phrased with a different variant
on each side, in two different countries. Background profiles draw two needs and two
offers (plus, often, a cross-cutting one) from the same concept set, so for any A there
are many background clusters that fit one or two of its needs, some even both ways,
often in A's own wording; the planted partner is the one that fits everything both ways. Chance
background profiles that fit as well exist and count against the engine.

Output is the `registry.cluster.upserted` event data (dicts), deterministic for a seed,
plus, kept apart from those dicts so the engine never sees it, the ground truth: the
concept id behind each profile's offers and needs ("<ecosystem>:<index>" or
"generic:<index>"; qualifiers are not part of the concept).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

Concept = tuple[str, ...]

VOCABULARY: dict[str, list[Concept]] = {
    "mobility-transport-automotive": [
        ("battery recycling", "recycling of spent Li-ion batteries", "recycled battery materials"),
        (
            "battery cell manufacturing",
            "manufacture of lithium-ion cells",
            "cell production for batteries",
        ),
        (
            "battery management systems",
            "BMS electronics for battery packs",
            "managing battery state of charge",
        ),
        (
            "solid-state batteries",
            "solid state battery chemistry",
            "solid electrolytes for next-generation cells",
        ),
        (
            "electric vehicle charging",
            "EV chargers and charging stations",
            "charging infrastructure for electric cars",
        ),
        (
            "electric drivetrains",
            "e-drive powertrain design",
            "electrified drive trains and motors",
        ),
        (
            "lightweight car bodies",
            "lightweighting of vehicle structures",
            "light-weight automotive body parts",
        ),
        ("autonomous driving", "self-driving vehicle software", "automated driving functions"),
        ("hydrogen fuel cell vehicles", "fuel-cell electric trucks", "hydrogen powered mobility"),
        ("vehicle-to-grid", "bidirectional charging V2G", "grid integration of electric vehicles"),
        (
            "automotive supply chain",
            "tier-1 and tier-2 automotive suppliers",
            "supplying car manufacturers",
        ),
        ("railway rolling stock", "rail vehicles and trains", "rolling-stock engineering"),
        ("urban micromobility", "e-scooters and e-bikes", "micro-mobility services in cities"),
        ("battery testing", "testing and certification of batteries", "battery safety tests"),
        ("cathode materials", "cathode active materials NMC and LFP", "production of cathodes"),
        ("logistics optimisation", "optimising freight logistics", "optimized transport logistics"),
    ],
    "agri-food": [
        (
            "precision farming",
            "precision agriculture with sensors",
            "farm data for precise cultivation",
        ),
        ("food processing", "processing of foods", "food-processing lines"),
        ("plant-based proteins", "alternative protein from plants", "plant protein ingredients"),
        ("food packaging", "packaging solutions for food products", "packaged food shelf life"),
        ("cold chain logistics", "refrigerated food logistics", "cold-chain transport"),
        ("dairy technology", "milk and dairy processing", "dairies and cheese making"),
        ("aquaculture", "fish farming", "aquaculture feed and farmed fish"),
        ("food safety testing", "testing food for contaminants", "food safety laboratories"),
        ("vertical farming", "indoor vertical farms", "vertically farmed vegetables"),
        ("fermentation", "fermented foods and precision fermentation", "fermenting microorganisms"),
        ("irrigation systems", "water-saving irrigation", "irrigating crops efficiently"),
        ("agricultural robotics", "farm robots", "robotic harvesting in agriculture"),
        (
            "food waste valorisation",
            "valorising food waste streams",
            "upcycling of food by-products",
        ),
        ("organic certification", "certified organic produce", "organic farming certification"),
        ("olive oil production", "olive-oil milling", "producing extra virgin olive oils"),
        ("seed breeding", "plant breeding and seeds", "breeding of crop varieties"),
    ],
    "health": [
        ("medical imaging", "diagnostic imaging devices", "imaging for medicine"),
        ("clinical trials", "running clinical studies", "clinical trial management"),
        (
            "medical device regulation",
            "MDR regulatory compliance",
            "regulatory approval of medical devices",
        ),
        ("telemedicine", "remote patient monitoring", "telehealth platforms"),
        ("biopharmaceutical production", "biopharma manufacturing", "production of biologics"),
        ("orthopaedic implants", "orthopedic implant design", "implants for bones and joints"),
        ("in vitro diagnostics", "IVD diagnostic assays", "diagnostic tests in vitro"),
        (
            "wearable health sensors",
            "wearables for health monitoring",
            "sensor-based health wearables",
        ),
        ("hospital logistics", "logistics in hospitals", "hospital supply management"),
        ("drug delivery systems", "delivering drugs with nanocarriers", "drug-delivery devices"),
        ("rehabilitation robotics", "robots for rehabilitation", "robotic rehab devices"),
        ("genomics", "genome sequencing", "genomic data analysis"),
        ("sterilisation", "sterilization of medical equipment", "sterilising instruments"),
        ("ageing well services", "active and healthy ageing", "services for elderly people"),
        ("vaccine development", "developing vaccines", "vaccines research"),
        (
            "health data interoperability",
            "interoperable health records",
            "HL7 FHIR health data exchange",
        ),
    ],
    "digital": [
        ("machine learning", "ML models and training", "machine-learning algorithms"),
        ("cybersecurity", "cyber security services", "securing networks against cyber attacks"),
        ("cloud computing", "cloud infrastructure services", "computing in the cloud"),
        (
            "computer vision",
            "image recognition with vision AI",
            "visual inspection by cameras and AI",
        ),
        (
            "natural language processing",
            "NLP and language technologies",
            "processing natural languages",
        ),
        ("internet of things", "IoT devices and platforms", "connected things and sensors"),
        ("blockchain", "distributed ledger technology", "blockchains for traceability"),
        ("high performance computing", "HPC supercomputing", "high-performance computers"),
        ("digital twins", "digital twin simulation", "twinning physical assets digitally"),
        ("edge computing", "computing at the edge", "edge devices and fog computing"),
        ("5G networks", "5G connectivity", "private 5G network deployment"),
        ("data spaces", "federated data spaces", "sharing data across companies"),
        ("software testing", "testing of software quality", "software test automation"),
        ("quantum computing", "quantum computers and algorithms", "quantum technologies"),
        ("e-commerce platforms", "online shops and e-commerce", "commerce platforms online"),
        (
            "robotic process automation",
            "RPA automating business processes",
            "process automation bots",
        ),
    ],
    "aerospace-defence": [
        ("satellite manufacturing", "small satellites and cubesats", "manufacture of satellites"),
        ("earth observation", "satellite earth-observation data", "observing the earth from space"),
        ("drones", "unmanned aerial vehicles", "UAV and drone systems"),
        (
            "composite aerostructures",
            "composite materials for aircraft structures",
            "aerostructure composites",
        ),
        ("avionics", "avionic systems", "aircraft electronics"),
        ("aircraft maintenance", "MRO maintenance repair overhaul", "maintaining aircraft"),
        (
            "additive manufacturing of metal parts",
            "3D printing of metals",
            "metal additive manufacturing",
        ),
        ("space propulsion", "propulsion for spacecraft", "rocket engines"),
        ("satellite navigation", "GNSS navigation", "navigating with Galileo satellites"),
        ("air traffic management", "managing air traffic", "ATM systems for airspace"),
        (
            "sustainable aviation fuels",
            "SAF biofuels for aviation",
            "sustainable fuels for aircraft",
        ),
        ("radar systems", "radars and sensing", "radar sensor systems"),
        ("flight simulation", "flight simulators", "simulating flights for training"),
        ("non-destructive testing", "NDT inspection", "non destructive inspection of parts"),
    ],
    "textiles": [
        ("technical textiles", "technical fabrics", "textiles for technical uses"),
        ("textile recycling", "recycling of used textiles", "recycled fibres from garments"),
        ("smart textiles", "e-textiles with sensors", "smart fabrics and wearables"),
        ("sustainable dyeing", "eco-friendly dyes and dyeing", "waterless dyeing processes"),
        ("fashion design", "fashion designers", "designing fashion collections"),
        ("knitting technology", "knitted fabrics", "knitting machines"),
        ("nonwovens", "non-woven fabrics", "nonwoven materials production"),
        ("natural fibres", "natural fibers like flax and hemp", "fibres from natural sources"),
        ("garment manufacturing", "apparel production", "manufacturing garments"),
        ("textile traceability", "tracing textile supply chains", "traceable textiles"),
        ("protective clothing", "personal protective clothes", "protective garments and PPE"),
        ("leather processing", "tanning of leather", "leather goods production"),
        ("circular fashion", "circular business models for fashion", "circularity in apparel"),
        ("textile finishing", "finishing of fabrics", "functional textile finishes"),
    ],
    "energy-renewables": [
        ("solar photovoltaics", "photovoltaic solar panels", "PV modules and solar power"),
        ("offshore wind", "offshore wind farms", "wind turbines at sea"),
        ("green hydrogen", "hydrogen from electrolysis", "electrolysers for renewable hydrogen"),
        ("energy storage", "stationary storage of energy", "grid-scale battery storage"),
        ("smart grids", "smart electricity grids", "grid digitalisation"),
        ("heat pumps", "heat pump systems", "heating with heat-pumps"),
        ("biogas", "biogas plants", "anaerobic digestion to biomethane"),
        ("geothermal energy", "geothermal heat", "deep geothermal power"),
        ("energy efficiency in buildings", "efficient buildings", "building energy retrofits"),
        ("power electronics", "inverters and power converters", "electronics for power conversion"),
        ("wind turbine blades", "blades for wind turbines", "rotor blade manufacturing"),
        ("energy communities", "community energy projects", "citizen energy cooperatives"),
        ("district heating", "heating networks", "district-heating systems"),
        ("carbon capture", "capturing CO2", "carbon capture and storage"),
    ],
}

NACE: dict[str, list[str]] = {
    "mobility-transport-automotive": ["29.10", "29.31", "27.20", "30.20", "49.41", "52.29"],
    "agri-food": ["01.11", "10.11", "10.51", "10.89", "03.21", "46.31"],
    "health": ["21.10", "21.20", "26.60", "32.50", "72.11", "86.10"],
    "digital": ["62.01", "62.02", "63.11", "61.90", "58.29", "72.19"],
    "aerospace-defence": ["30.30", "33.16", "26.51", "25.40", "51.10", "72.19"],
    "textiles": ["13.10", "13.20", "13.95", "14.13", "15.11", "13.96"],
    "energy-renewables": ["35.11", "27.11", "28.25", "43.21", "35.30", "71.12"],
}

# Cross-cutting things any cluster may offer or need: noise shared by every ecosystem.
GENERIC: list[Concept] = [
    (
        "internationalisation support",
        "support to internationalise SMEs",
        "internationalization services",
    ),
    (
        "access to EU funding",
        "help with European funding applications",
        "funding and grants advice",
    ),
    ("skills training", "training of skilled workers", "upskilling and reskilling programmes"),
    ("matchmaking events", "B2B matchmaking", "brokerage events for businesses"),
    ("technology transfer", "transfer of technologies from research", "tech-transfer offices"),
    ("test beds and pilot lines", "pilot-line testing facilities", "testbeds for prototypes"),
]

# What an offer or need is for. Real needs are specific ("battery recycling for e-bikes"),
# which is what makes one partner fit better than another; without qualifiers a small
# concept set makes many background clusters exact duplicates of each other.
QUALIFIERS: list[Concept] = [
    ("for SMEs", "for small and medium-sized enterprises", "for small firms"),
    ("for harsh environments", "in harsh conditions", "for extreme environments"),
    ("for export markets", "for markets abroad", "for exporting companies"),
    ("at industrial scale", "for industrial-scale production", "at scale in industry"),
    ("for public transport", "for buses and trams", "in public transportation"),
    ("for rural areas", "in the countryside", "for rural regions"),
    ("for the circular economy", "with circular design", "for circularity"),
    ("with a low carbon footprint", "low-carbon", "with lower CO2 emissions"),
    ("for hospitals", "in hospital settings", "for clinics and hospitals"),
    ("for smart cities", "in smart city projects", "for cities"),
    ("for the defence sector", "for defense applications", "for military customers"),
    ("for start-ups", "for startups", "for young companies"),
]
QUALIFIED_SHARE = 0.6

EU_COUNTRIES = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
]
OTHER_TENANTS = {"jp": "JP", "in": "IN", "kr": "KR", "br": "BR", "tn": "TN", "ma": "MA"}
CITIES = ("North", "South", "East", "West", "Central", "Coastal", "Valley", "Metro")
DESCRIPTION_TEMPLATES = (
    "Cluster of {n} members working on {a} and {b} in the {eco} ecosystem.",
    "We bring together companies and research centres active in {a}, {b}.",
    "Regional network for {eco}: our members focus on {a}; strong in {b}.",
    "An innovation cluster specialised in {a} with growing activity in {b}.",
)
LABELS = ("none", "none", "none", "bronze", "bronze", "silver", "gold")


@dataclass(frozen=True, slots=True)
class Concepts:
    """What a profile offers and needs, as concept ids (wording-independent)."""

    offers: frozenset[str]
    needs: frozenset[str]


@dataclass(frozen=True, slots=True)
class Dataset:
    profiles: list[dict[str, Any]]
    # (a_id, b_id): a and b are mutual complementary partners; both directions count.
    planted: list[tuple[str, str]]
    # profile id → concepts of its offers and needs; for evaluation only.
    truth: dict[str, Concepts]


def concept_id(eco: str, index: int) -> str:
    return f"{eco}:{index}"


def _generic(rng: random.Random) -> tuple[str, str]:
    """A cross-cutting phrase and its concept id (same random draws as a plain choice)."""
    concept = rng.choice(GENERIC)
    return _phrase(rng, concept), f"generic:{GENERIC.index(concept)}"


def _country(rng: random.Random) -> tuple[str, str]:
    # EU clusters are the majority on the platform; the other tenants are smaller.
    if rng.random() < 0.7:
        return "eu", rng.choice(EU_COUNTRIES)
    tenant = rng.choice(sorted(OTHER_TENANTS))
    return tenant, OTHER_TENANTS[tenant]


def _phrase(rng: random.Random, concept: Concept, avoid: str | None = None) -> str:
    choices = [v for v in concept if v != avoid] or list(concept)
    return rng.choice(choices)


def _qualified(rng: random.Random, concept: Concept) -> str:
    """A background offer or need: a concept variant, often with a random qualifier."""
    text = _phrase(rng, concept)
    if rng.random() < QUALIFIED_SHARE:
        text += " " + _phrase(rng, rng.choice(QUALIFIERS))
    return text


def _exchange(rng: random.Random, concept: Concept) -> tuple[str, str]:
    """The same specific need/offer as worded by two different clusters."""
    mine = _phrase(rng, concept)
    theirs = _phrase(rng, concept, avoid=mine)
    if rng.random() < QUALIFIED_SHARE:
        qualifier = rng.choice(QUALIFIERS)
        q_mine = _phrase(rng, qualifier)
        mine += " " + q_mine
        theirs += " " + _phrase(rng, qualifier, avoid=q_mine)
    return mine, theirs


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0
        self.truth: dict[str, Concepts] = {}

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def profile(
        self,
        *,
        eco: str,
        country: tuple[str, str] | None = None,
        offers: list[str] | None = None,
        needs: list[str] | None = None,
        offer_ids: list[str] | None = None,
        need_ids: list[str] | None = None,
        exclude: set[int] | None = None,
        extras: bool = True,
    ) -> dict[str, Any]:
        rng = self.rng
        self.count += 1
        tenant, cc = country or _country(rng)
        concepts = VOCABULARY[eco]
        free = [i for i in range(len(concepts)) if i not in (exclude or set())]
        own = rng.sample(free, 6)
        comp_idx, tech_idx = own[:4], own[4:]
        competences = [_phrase(rng, concepts[i]) for i in comp_idx]
        technologies = [_phrase(rng, concepts[i]) for i in tech_idx]
        if offers is None:
            picked = rng.sample(comp_idx, 2)
            offers = [_qualified(rng, concepts[i]) for i in picked]
            offer_ids = [concept_id(eco, i) for i in picked]
        if needs is None:
            others = [i for i in free if i not in own]
            picked = rng.sample(others, 2)
            needs = [_qualified(rng, concepts[i]) for i in picked]
            need_ids = [concept_id(eco, i) for i in picked]
        offer_ids = list(offer_ids or [])
        need_ids = list(need_ids or [])
        if extras and rng.random() < 0.4:
            text, cid = _generic(rng)
            offers = [*offers, text]
            offer_ids.append(cid)
        if extras and rng.random() < 0.4:
            text, cid = _generic(rng)
            needs = [*needs, text]
            need_ids.append(cid)
        ecosystems = [eco]
        if rng.random() < 0.25:
            ecosystems.append(rng.choice([e for e in VOCABULARY if e != eco]))
        all_cc = [*EU_COUNTRIES, *OTHER_TENANTS.values()]
        description = rng.choice(DESCRIPTION_TEMPLATES).format(
            n=rng.randint(20, 400),
            a=competences[0],
            b=technologies[0],
            eco=eco.replace("-", " "),
        )
        pid = self.new_id()
        self.truth[pid] = Concepts(offers=frozenset(offer_ids), needs=frozenset(need_ids))
        return {
            "id": pid,
            "tenant": tenant,
            "name": f"{rng.choice(CITIES)} {eco.split('-')[0].title()} Cluster {self.count}",
            "country": cc,
            "city": f"{rng.choice(CITIES)} City",
            "description": description,
            "languages": ["en"],
            "ecosystems": ecosystems,
            "nace_codes": rng.sample(NACE[eco], 3),
            "competences": competences,
            "technologies": technologies,
            "offers": offers,
            "needs": needs,
            "target_countries": rng.sample(all_cc, rng.randint(1, 4)),
            "label": {"level": rng.choice(LABELS), "valid_until": None},
            "verified": rng.random() < 0.6,
            "version": 1,
        }

    def planted_pair(self) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        eco = rng.choice(sorted(VOCABULARY))
        concepts = VOCABULARY[eco]
        picked = rng.sample(range(len(concepts)), 6)
        a_need, b_need = picked[:3], picked[3:]
        a_country = _country(rng)
        b_country = _country(rng)
        while b_country[1] == a_country[1]:
            b_country = _country(rng)
        # Each side words the shared need with a different variant than the other side.
        a_needs, b_offers = zip(*(_exchange(rng, concepts[i]) for i in a_need), strict=True)
        b_needs, a_offers = zip(*(_exchange(rng, concepts[i]) for i in b_need), strict=True)
        used = set(a_need) | set(b_need)
        a = self.profile(
            eco=eco,
            country=a_country,
            offers=list(a_offers),
            needs=list(a_needs),
            offer_ids=[concept_id(eco, i) for i in b_need],
            need_ids=[concept_id(eco, i) for i in a_need],
            exclude=used,
            extras=False,
        )
        b = self.profile(
            eco=eco,
            country=b_country,
            offers=list(b_offers),
            needs=list(b_needs),
            offer_ids=[concept_id(eco, i) for i in a_need],
            need_ids=[concept_id(eco, i) for i in b_need],
            exclude=used,
            extras=False,
        )
        return a, b


def generate(n: int, *, seed: int = 7, planted_pairs: int = 200) -> Dataset:
    """`n` profiles in total, of which `2 * planted_pairs` form planted partner pairs."""
    if n < 2 * planted_pairs:
        raise ValueError("n must leave room for the planted pairs")
    maker = _Maker(seed)
    profiles: list[dict[str, Any]] = []
    planted: list[tuple[str, str]] = []
    for _ in range(planted_pairs):
        a, b = maker.planted_pair()
        profiles.extend((a, b))
        planted.append((a["id"], b["id"]))
    ecos = sorted(VOCABULARY)
    while len(profiles) < n:
        profiles.append(maker.profile(eco=maker.rng.choice(ecos)))
    # Shuffle so planted profiles are not all at the start of the build order.
    maker.rng.shuffle(profiles)
    return Dataset(profiles=profiles, planted=planted, truth=maker.truth)
