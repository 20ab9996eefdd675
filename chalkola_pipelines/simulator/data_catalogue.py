"""The synthetic seller's catalogue: product lines, parent/child ASINs, SKUs, titles, local prices, listings.

Private helper of :mod:`chalkola_pipelines.simulator.seller`. Everything is derived from the seed through
:func:`rng_for`, so the same seed always gives the same catalogue, whatever is asked first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np

from chalkola_pipelines.marketplaces import Marketplace

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """A generator seeded by a stable hash of (seed, *parts): independent of call order and PYTHONHASHSEED."""
    key = "|".join([str(seed), *(str(p) for p in parts)]).encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest, "big")))


# ---------------------------------------------------------------------------------------------------------
# Marketplace economics (relative demand, currency, price ending, tax, ads) — synthetic but plausible.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketEconomics:
    demand: float  # share of US traffic
    listed_share: float  # probability that a parent is listed here (US lists everything)
    fx: float  # local currency units per USD
    price_premium: float  # local price level relative to US
    exponent: int  # currency minor-unit exponent (JPY 0)
    tax_rate: float  # sales tax (exclusive, US/CA) or VAT/GST (inclusive) rate
    tax_inclusive: bool
    b2b_rate: float  # share of business orders
    mfn_rate: float  # share of merchant-fulfilled orders
    launch: dt.date  # first day the seller sold here
    campaigns: int  # Sponsored Products campaigns at scale 1
    cpc_usd: float  # mean cost per click, in USD
    language: str  # Sellers API defaultLanguageCode
    domain: str  # Sellers API domainName
    order_prefixes: tuple[str, ...]  # first block of order ids


ECONOMICS: dict[str, MarketEconomics] = {
    "US": MarketEconomics(1.00, 1.00, 1.0, 1.00, 2, 0.0725, False, 0.05, 0.10, dt.date(2018, 3, 1), 60, 1.05,
                          "en_US", "www.amazon.com", ("111", "112", "113", "114")),
    "CA": MarketEconomics(0.12, 0.60, 1.37, 1.05, 2, 0.13, False, 0.03, 0.08, dt.date(2020, 5, 1), 30, 0.80,
                          "en_CA", "www.amazon.ca", ("701", "702")),
    "MX": MarketEconomics(0.05, 0.30, 18.0, 1.10, 2, 0.16, True, 0.02, 0.05, dt.date(2022, 8, 1), 20, 0.25,
                          "es_MX", "www.amazon.com.mx", ("701", "702")),
    "UK": MarketEconomics(0.20, 0.70, 0.79, 1.05, 2, 0.20, True, 0.05, 0.08, dt.date(2020, 2, 1), 45, 0.85,
                          "en_GB", "www.amazon.co.uk", ("202", "203", "204", "206")),
    "DE": MarketEconomics(0.22, 0.60, 0.92, 1.08, 2, 0.19, True, 0.06, 0.06, dt.date(2020, 6, 1), 45, 0.80,
                          "de_DE", "www.amazon.de", ("302", "303", "304", "305", "306")),
    "FR": MarketEconomics(0.08, 0.40, 0.92, 1.08, 2, 0.20, True, 0.03, 0.06, dt.date(2021, 4, 1), 28, 0.65,
                          "fr_FR", "www.amazon.fr", ("402", "403", "405", "406")),
    "IT": MarketEconomics(0.07, 0.40, 0.92, 1.08, 2, 0.22, True, 0.03, 0.06, dt.date(2021, 4, 1), 25, 0.60,
                          "it_IT", "www.amazon.it", ("402", "403", "405", "406", "407")),
    "ES": MarketEconomics(0.06, 0.40, 0.92, 1.08, 2, 0.21, True, 0.03, 0.06, dt.date(2021, 4, 1), 25, 0.55,
                          "es_ES", "www.amazon.es", ("402", "403", "405", "406", "407")),
    "AE": MarketEconomics(0.025, 0.15, 3.67, 1.15, 2, 0.05, True, 0.02, 0.10, dt.date(2025, 9, 15), 20, 0.50,
                          "en_AE", "www.amazon.ae", ("171", "407")),
    "AU": MarketEconomics(0.06, 0.40, 1.52, 1.10, 2, 0.10, True, 0.03, 0.08, dt.date(2023, 3, 1), 25, 0.70,
                          "en_AU", "www.amazon.com.au", ("249", "250")),
    "JP": MarketEconomics(0.09, 0.35, 150.0, 1.05, 0, 0.10, True, 0.04, 0.05, dt.date(2023, 10, 1), 30, 0.55,
                          "ja_JP", "www.amazon.co.jp", ("249", "250", "503")),
}  # fmt: skip

_DEFAULT_ECONOMICS = MarketEconomics(
    0.04, 0.25, 1.0, 1.10, 2, 0.20, True, 0.02, 0.08, dt.date(2024, 6, 1), 20, 0.50, "en_US", "www.amazon.com",
    ("408",),
)  # fmt: skip


def economics(code: str, currency: str = "USD") -> MarketEconomics:
    """Economics of a marketplace; catalogue marketplaces outside the default eleven get a small generic one."""
    eco = ECONOMICS.get(code)
    if eco is not None:
        return eco
    return _DEFAULT_ECONOMICS


# ---------------------------------------------------------------------------------------------------------
# Product lines
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductLine:
    code: str
    name: str
    families: tuple[str, ...]
    variants: tuple[str, ...]  # child variant names (pack sizes / colours)
    base_usd: float  # price of the smallest variant
    step_usd: float  # price increase per variant step
    season: str  # "" | easter | halloween | christmas | school


PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("LCM", "Liquid Chalk Markers", ("Fine Tip", "Medium Tip", "Jumbo Tip", "Reversible Tip", "Earth Tones",
                "Pastel", "Neon", "Metallic", "Dual Tip", "Bistro Pack"),
                ("8 Colors", "10 Colors", "12 Colors", "16 Colors", "20 Colors", "30 Colors", "40 Colors"), 11.99, 3.0, ""),
    ProductLine("APP", "Acrylic Paint Pens", ("Extra Fine Tip", "Fine Tip", "Medium Tip", "Brush Tip", "Dual Tip",
                "Pastel", "Skin Tones", "Metallic", "Rock Painting", "Wood & Canvas"),
                ("12 Colors", "18 Colors", "24 Colors", "36 Colors", "48 Colors", "60 Colors", "84 Colors"), 13.99, 4.0, ""),
    ProductLine("WCS", "Watercolor Paint Set", ("Travel Pan Set", "Metallic", "Pastel", "Professional", "Kids",
                "Tube Set", "Pocket Set", "Neon"),
                ("12 Colors", "24 Colors", "36 Colors", "48 Colors", "72 Colors"), 14.99, 5.0, ""),
    ProductLine("WBP", "Watercolor Brush Pens", ("Real Brush Tip", "Dual Tip", "Pastel", "Calligraphy", "Vintage"),
                ("20 Colors", "24 Colors", "36 Colors", "48 Colors"), 15.99, 4.0, ""),
    ProductLine("MET", "Metallic Markers", ("Fine Tip", "Medium Tip", "Brush Tip", "Glitter"),
                ("10 Colors", "12 Colors", "20 Colors"), 10.99, 3.0, ""),
    ProductLine("WIN", "Window Markers", ("Car Window", "Glass & Mirror", "Neon", "White & Black", "Washable"),
                ("4 Pack", "8 Colors", "12 Colors", "16 Colors"), 12.99, 3.0, ""),
    ProductLine("ROK", "Rock Painting Kit", ("Starter", "Deluxe", "Glow in the Dark", "Kids Party"),
                ("1 Kit", "2 Kits", "Family Pack"), 19.99, 8.0, ""),
    ProductLine("GOU", "Gouache Paint Set", ("Jelly Cup", "Tube", "Pastel", "Metallic"),
                ("18 Colors", "24 Colors", "42 Colors", "56 Colors"), 17.99, 6.0, ""),
    ProductLine("ACR", "Acrylic Paint Set", ("Tube", "Bottle", "Metallic", "Neon", "Heavy Body"),
                ("12 Colors", "24 Colors", "36 Colors", "48 Colors"), 15.99, 5.0, ""),
    ProductLine("OPS", "Oil Pastels", ("Soft", "Jumbo", "Metallic", "Neon"),
                ("24 Colors", "36 Colors", "50 Colors", "72 Colors"), 9.99, 3.0, ""),
    ProductLine("FAB", "Fabric Markers", ("Permanent", "Fine & Brush", "Shoe Art", "Glitter"),
                ("12 Colors", "20 Colors", "30 Colors", "40 Colors"), 12.99, 3.5, ""),
    ProductLine("GLS", "Glass Paint Markers", ("Oil Based", "Water Based", "Wine Glass", "Porcelain"),
                ("8 Colors", "12 Colors", "18 Colors"), 12.99, 3.5, ""),
    ProductLine("DBP", "Dual Brush Pens", ("Art Markers", "Lettering", "Coloring Book", "Manga"),
                ("24 Colors", "36 Colors", "60 Colors", "100 Colors", "120 Colors"), 16.99, 6.0, ""),
    ProductLine("DOT", "Dot Markers", ("Washable", "Toddler", "Neon", "Activity Book Bundle"),
                ("6 Colors", "8 Colors", "10 Colors", "15 Colors"), 11.99, 2.5, "school"),
    ProductLine("SKB", "Sketchbook", ("Mixed Media", "Watercolor Paper", "Black Paper", "Spiral"),
                ("A5", "A4", "9x12 in", "2 Pack"), 8.99, 3.0, "school"),
    ProductLine("CLB", "Chalkboard Labels", ("Jar Labels", "Pantry Set", "Round", "Removable"),
                ("48 Pack", "96 Pack", "144 Pack", "Bundle with Marker"), 7.99, 2.0, ""),
    ProductLine("EGG", "Easter Egg Paint Pens", ("Pastel", "Neon", "Kids Kit"),
                ("12 Colors", "24 Colors"), 11.99, 4.0, "easter"),
    ProductLine("HAL", "Halloween Window Markers", ("Glow", "Neon", "Spooky Stencils"),
                ("8 Colors", "12 Colors"), 12.99, 3.0, "halloween"),
    ProductLine("XMS", "Christmas Window Markers", ("Holiday", "Snow White", "Metallic Gold", "Stencil Kit"),
                ("8 Colors", "12 Colors", "16 Colors"), 12.99, 3.0, "christmas"),
    ProductLine("BRS", "Paint Brush Set", ("Detail", "Watercolor", "Acrylic", "Kids"),
                ("10 Pack", "15 Pack", "25 Pack"), 9.99, 3.0, ""),
)  # fmt: skip


@dataclass(frozen=True)
class Product:
    index: int  # position in the catalogue (child)
    child_asin: str
    parent_asin: str
    parent_index: int
    sku: str
    title: str
    line: ProductLine
    usd_price: float
    weight: float  # relative demand (mean 1 over the catalogue)
    conversion: float  # unit-session base conversion rate


@dataclass(frozen=True)
class Parent:
    index: int
    asin: str
    title: str
    line: ProductLine
    children: tuple[int, ...]


class Catalogue:
    """~200 parents / ~1,000 children per unit of scale."""

    def __init__(self, seed: int, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        rng = rng_for(seed, "catalogue")
        n_parents = max(len(PRODUCT_LINES), round(200 * scale))
        used: set[str] = set()

        def new_asin() -> str:
            while True:
                chars = rng.integers(0, len(_ALNUM), size=8)
                asin = "B0" + "".join(_ALNUM[c] for c in chars)
                if asin not in used:
                    used.add(asin)
                    return asin

        parents: list[Parent] = []
        products: list[Product] = []
        line_weights = rng.lognormal(0.0, 0.5, size=len(PRODUCT_LINES))
        for p in range(n_parents):
            line_idx = (
                p % len(PRODUCT_LINES) if p < len(PRODUCT_LINES) else int(rng.integers(0, len(PRODUCT_LINES)))
            )
            line = PRODUCT_LINES[line_idx]
            family = line.families[int(rng.integers(0, len(line.families)))]
            generation = p // (len(PRODUCT_LINES) * 2)
            suffix = f", Series {generation + 1}" if generation else ""
            parent_asin = new_asin()
            parent_title = f"Chalkola {line.name} - {family}{suffix}"
            n_children = int(np.clip(rng.poisson(4.2) + 1, 1, 10))
            parent_weight = float(rng.lognormal(0.0, 1.1)) * float(line_weights[line_idx])
            child_shares = rng.dirichlet(np.full(n_children, 1.2))
            children: list[int] = []
            for c in range(n_children):
                v = c % len(line.variants)
                variant = line.variants[v]
                if c >= len(line.variants):
                    variant = f"{variant} Refill"
                price = line.base_usd + line.step_usd * v + 2.0 * (c // len(line.variants))
                price *= float(rng.choice([1.0, 1.0, 1.0, 1.1, 0.9]))
                idx = len(products)
                code = "".join(_ALNUM[x] for x in rng.integers(0, len(_ALNUM), size=4))
                sku = f"CK-{line.code}-{p:03d}{c:02d}-{code}"
                products.append(
                    Product(
                        index=idx,
                        child_asin=new_asin(),
                        parent_asin=parent_asin,
                        parent_index=p,
                        sku=sku,
                        title=f"Chalkola {line.name} {family}, {variant}{suffix}",
                        line=line,
                        usd_price=round(price, 2),
                        weight=parent_weight * float(child_shares[c]) * n_children,
                        conversion=float(np.clip(rng.lognormal(np.log(0.11), 0.35), 0.03, 0.35)),
                    )
                )
                children.append(idx)
            parents.append(Parent(p, parent_asin, parent_title, line, tuple(children)))
        mean_weight = sum(x.weight for x in products) / len(products)
        self.products: tuple[Product, ...] = tuple(
            Product(**{**x.__dict__, "weight": x.weight / mean_weight}) for x in products
        )
        self.parents: tuple[Parent, ...] = tuple(parents)
        self.by_asin = {x.child_asin: x for x in self.products}


@dataclass(frozen=True)
class Listing:
    """The children listed in one marketplace, with their local prices (minor units) and demand."""

    marketplace: Marketplace
    eco: MarketEconomics
    products: tuple[Product, ...]
    price_minor: np.ndarray  # int64, local list price per listed child
    base_sessions: np.ndarray  # float64, expected daily sessions at season 1.0
    conversion: np.ndarray  # float64
    line_index: np.ndarray  # int64 index into PRODUCT_LINES
    parent_count: int


def local_price_minor(usd: float, eco: MarketEconomics) -> int:
    """A charm price in the local currency, in minor units (JPY: yen ending in 80; others x.99/x.95/whole)."""
    local = usd * eco.fx * eco.price_premium
    if eco.exponent == 0:
        return max(100, int(round(local / 100.0)) * 100 - 20)
    if eco.fx >= 10:  # MXN: whole pesos ending in 9
        return max(900, (int(round(local / 10.0)) * 10 - 1) * 100)
    if eco.fx >= 3:  # AED: whole dirhams
        return max(500, int(round(local)) * 100)
    cents = max(199, int(round(local)) * 100 - 1)
    if eco.fx >= 1.5:  # AUD: .95 endings
        cents -= 4
    return cents


def build_listing(seed: int, catalogue: Catalogue, mkt: Marketplace) -> Listing:
    eco = economics(mkt.code, mkt.currency)
    rng = rng_for(seed, "listing", mkt.code)
    chosen: list[Product] = []
    parent_count = 0
    for parent in catalogue.parents:
        listed_parent = mkt.code == "US" or rng.random() < eco.listed_share
        child_draws = rng.random(len(parent.children))
        if not listed_parent:
            continue
        kids = [catalogue.products[c] for c, u in zip(parent.children, child_draws, strict=True)]
        if mkt.code != "US":
            kept = [k for k, u in zip(kids, child_draws, strict=True) if u < 0.85]
            kids = kept or kids[:1]
        parent_count += 1
        chosen.extend(kids)
    weights = np.array([p.weight for p in chosen], dtype=np.float64)
    # Keep the marketplace's total traffic proportional to its demand share and to the catalogue size.
    total_target = 4.0 * eco.demand * len(catalogue.products)
    base = weights / weights.sum() * total_target if len(chosen) else weights
    line_pos = {line.code: i for i, line in enumerate(PRODUCT_LINES)}
    return Listing(
        marketplace=mkt,
        eco=eco,
        products=tuple(chosen),
        price_minor=np.array([local_price_minor(p.usd_price, eco) for p in chosen], dtype=np.int64),
        base_sessions=base,
        conversion=np.array([p.conversion for p in chosen], dtype=np.float64),
        line_index=np.array([line_pos[p.line.code] for p in chosen], dtype=np.int64),
        parent_count=parent_count,
    )
