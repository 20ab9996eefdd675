"""Regenerate seeds/dim_marketplace.csv from chalkola_pipelines.marketplaces (the one catalogue).

Usage: .venv/bin/python dbt_project/scripts/generate_marketplace_seed.py
tests/dbt/test_dbt_marketplace_seed.py fails when the seed and the catalogue disagree.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from chalkola_pipelines.marketplaces import all_marketplaces

SEED_PATH = Path(__file__).resolve().parent.parent / "seeds" / "dim_marketplace.csv"
COLUMNS = ("code", "marketplace_id", "region", "country_code", "currency", "timezone", "sales_channel")


def render_seed() -> str:
    """The seed's CSV text, one row per catalogue marketplace in catalogue order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in all_marketplaces():
        writer.writerow([getattr(m, column) for column in COLUMNS])
    return out.getvalue()


if __name__ == "__main__":
    SEED_PATH.write_text(render_seed(), encoding="utf-8")
    print(f"wrote {SEED_PATH}")
