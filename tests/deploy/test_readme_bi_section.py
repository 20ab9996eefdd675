"""The README's "Connect your BI tool / Google Sheets" section explains every column of every mart — the same
columns, in the same order, as the marts' dbt docs — and names the role and the commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chalkola_pipelines.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
MART_DOCS = [*sorted((REPO / "dbt_project" / "models" / "marts").glob("*.yml")),
             REPO / "dbt_project" / "seeds" / "dim_marketplace.yml"]  # fmt: skip


def documented_columns() -> dict[str, list[str]]:
    marts = {}
    for path in MART_DOCS:
        doc = yaml.safe_load(path.read_text())
        for node in doc.get("models", []) + doc.get("seeds", []):
            marts[node["name"]] = [c["name"] for c in node["columns"]]
    return marts


def readme_columns() -> dict[str, list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Connect your BI tool / Google Sheets", 1)[1].split("\n## ", 1)[0]
    tables = {}
    for block in section.split("#### ")[1:]:
        name = re.match(r"`(\w+)`", block).group(1)
        tables[name] = re.findall(r"^\| `(\w+)` \| .+\|$", block, re.M)
    return tables


def test_readme_explains_every_mart_column() -> None:
    documented = documented_columns()
    assert set(documented) == {"fct_asin_daily", "fct_ads_campaign_daily", "fct_ads_asin_daily", "dim_product",
                               "dim_marketplace"}  # fmt: skip
    assert readme_columns() == documented


def test_readme_names_the_role_and_commands_that_exist() -> None:
    text = (REPO / "README.md").read_text()
    assert "`chalkola_bi`" in text and "CHALKOLA_BI_PASSWORD" in text
    commands = build_parser()._subparsers._group_actions[0].choices
    for command in ("export", "docs", "db"):
        assert command in commands and f"chalkola {command}" in text
    assert "make docs" in text and "make stop" in text
