"""dbt_project/seeds/dim_marketplace.csv is the Python marketplace catalogue, row for row."""

from __future__ import annotations

import csv

from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR
from chalkola_pipelines.marketplaces import all_marketplaces

SEED = DBT_PROJECT_DIR / "seeds" / "dim_marketplace.csv"
REGENERATE = "regenerate it: .venv/bin/python dbt_project/scripts/generate_marketplace_seed.py"


def test_seed_equals_python_catalogue() -> None:
    with SEED.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = [
        {
            "code": m.code,
            "marketplace_id": m.marketplace_id,
            "region": m.region,
            "country_code": m.country_code,
            "currency": m.currency,
            "timezone": m.timezone,
            "sales_channel": m.sales_channel,
        }
        for m in all_marketplaces()
    ]
    assert rows == expected, f"{SEED} differs from chalkola_pipelines/marketplaces.py; {REGENERATE}"
