"""Parser → loader: small documents in Amazon's formats, parsed by amazon/parsers, loaded by the loaders."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import psycopg
import pytest

from chalkola_pipelines.amazon.parsers.ads_report import iter_sp_advertised_product_rows
from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
from chalkola_pipelines.amazon.parsers.sales_traffic import parse_sales_and_traffic
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_OFFICIAL_HEADER,
    ST_BY_ASIN_FIELDS,
    ST_BY_DATE_FIELDS,
)
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.ads_tables import replace_ads_advertised_product
from chalkola_pipelines.warehouse.order_tables import replace_order_items
from chalkola_pipelines.warehouse.sales_traffic_tables import replace_sales_traffic_day

US = get_marketplace("US")
JP = get_marketplace("JP")


def _order_line(order_id: str, purchase: str, sku: str, price: str) -> str:
    values = {h: "" for h in ORDER_REPORT_OFFICIAL_HEADER}
    values.update({
        "amazon-order-id": order_id, "purchase-date": purchase, "last-updated-date": purchase,
        "order-status": "Shipped", "sales-channel": "Amazon.co.jp", "sku": sku, "asin": "B0TEST0001",
        "item-status": "Shipped", "quantity": "1", "currency": "JPY", "item-price": price,
        "ship-city": "Springfield-PII", "ship-postal-code": "99999-PII", "cpf": "123.456.789-PII",
        "ship-country": "JP", "is-business-order": "false",
    })  # fmt: skip
    return "\t".join([*(values[h] for h in ORDER_REPORT_OFFICIAL_HEADER), "extra-value"])


def test_order_report_document_to_local_day_partitions(db: psycopg.Connection) -> None:
    header = "\t".join([*ORDER_REPORT_OFFICIAL_HEADER, "tax-collection-model"])
    lines = [
        header,
        _order_line("250-1", "2025-03-01T14:59:59+00:00", "A", "1000"),  # 23:59:59 JST, Mar 1
        _order_line("250-2", "2025-03-01T15:00:00+00:00", "B", "2500"),  # 00:00 JST, Mar 2
        _order_line("250-2", "2025-03-01T15:00:00+00:00", "C", "300"),
        _order_line("250-3", "2025-02-28T14:00:00+00:00", "D", "10"),  # Feb 28 JST: outside the days
    ]
    stream = io.BytesIO(("\n".join(lines) + "\n").encode("utf-8"))
    counts = replace_order_items(
        db,
        marketplace=JP,
        days=[dt.date(2025, 3, 1), dt.date(2025, 3, 2)],
        rows=iter_order_report_rows(stream),
        report_id="order-report-1",
    )
    assert dict(counts) == {dt.date(2025, 3, 1): 1, dt.date(2025, 3, 2): 2} and counts.ignored == 1
    rows = db.execute(
        "select amazon_order_id, line_number, order_date, item_price, extra_columns"
        " from raw_amazon.sp_order_items order by 1, 2"
    ).fetchall()
    assert rows == [
        ("250-1", 1, dt.date(2025, 3, 1), Decimal("1000"), {"tax-collection-model": "extra-value"}),
        ("250-2", 1, dt.date(2025, 3, 2), Decimal("2500"), {"tax-collection-model": "extra-value"}),
        ("250-2", 2, dt.date(2025, 3, 2), Decimal("300"), {"tax-collection-model": "extra-value"}),
    ]
    dump = db.execute(
        "select string_agg(row_to_json(t)::text, ' ') from raw_amazon.sp_order_items t"
    ).fetchone()[0]
    assert "PII" not in dump


def _st_sections(fields, overrides: dict[str, object]) -> dict[str, dict]:
    """Every catalogue field, as Amazon writes it (Amounts as objects), with a few chosen values."""
    sections: dict[str, dict] = {}
    for f in fields:
        value = overrides.get(f.name, 0)
        if f.kind == "money":
            value = {"amount": value, "currencyCode": "USD"}
        sections.setdefault(f.section, {})[f.name] = value
    return sections


def test_sales_traffic_document(db: psycopg.Connection) -> None:
    doc = {
        "reportSpecification": {
            "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
            "marketplaceIds": [US.marketplace_id],
        },
        "salesAndTrafficByDate": [
            {
                "date": "2025-03-01",
                **_st_sections(ST_BY_DATE_FIELDS, {"orderedProductSales": 1234.56, "buyBoxPercentage": 97.5}),
            }
        ],
        "salesAndTrafficByAsin": [
            {
                "parentAsin": "B0PARENT01",
                "childAsin": "B0CHILD001",
                **_st_sections(ST_BY_ASIN_FIELDS, {"orderedProductSales": 59.97, "sessions": 40}),
            }
        ],
    }
    parsed = parse_sales_and_traffic(io.BytesIO(json.dumps(doc).encode()))
    day = dt.date(2025, 3, 1)
    assert replace_sales_traffic_day(db, marketplace=US, day=day, document=parsed, report_id="st-1") == (1, 1)
    got = db.execute(
        "select d.ordered_product_sales, d.buy_box_percentage, a.ordered_product_sales, a.sessions, a.sku, a.report_date"
        " from raw_amazon.sp_sales_traffic_by_date d join raw_amazon.sp_sales_traffic_by_asin a using (marketplace)"
    ).fetchone()
    assert got == (Decimal("1234.56"), Decimal("97.5"), Decimal("59.97"), 40, "", day)


# The other columns the marts need (ADS_REQUIRED_COLUMNS), for rows that are about something else
ADS_REST = (
    '"campaignName":"c","campaignStatus":"ENABLED","sales14d":0,"attributedSalesSameSku7d":0,'
    '"attributedSalesSameSku14d":0,"purchases14d":0,"unitsSoldClicks7d":0,"unitsSoldClicks14d":0'
)


def test_ads_document_with_ids_beyond_2_pow_53(db: psycopg.Connection) -> None:
    big = 2**53 + 1
    ids = f'"campaignId":{big},"adGroupId":{big + 2},"adId":{big + 4},{ADS_REST}'
    text = (
        f'[{{"date":"2025-03-01",{ids},"impressions":10,"clicks":1,"cost":0.35,"spend":0.35,"sales7d":19.99,'
        f'"purchases7d":1,"advertisedAsin":"B0TEST0001"}},'
        f'{{"date":"2025-03-02",{ids},"impressions":0,"clicks":0,"cost":0,"spend":0,"sales7d":0,'
        f'"purchases7d":0,"advertisedAsin":"B0TEST0001"}}]'
    )
    assert json.loads(text)[0]["adId"] == big + 4
    counts = replace_ads_advertised_product(
        db,
        marketplace=US,
        profile_id=big,
        days=[dt.date(2025, 3, 1), dt.date(2025, 3, 2)],
        rows=iter_sp_advertised_product_rows(io.BytesIO(text.encode())),
        report_id="ads-1",
    )
    assert sum(counts.values()) == 2
    got = db.execute(
        "select campaign_id, ad_group_id, ad_id, cost, sales_7d from raw_amazon.ads_sp_advertised_product"
        " where report_date = '2025-03-01'"
    ).fetchone()
    assert got == (big, big + 2, big + 4, Decimal("0.35"), Decimal("19.99"))


def _tricky_ads_document(n: int) -> bytes:
    """Rows whose strings and numbers exercise every branch of the parser's batch path and its CSV."""
    names = [
        "plain",
        'a},{"b":1},',
        'say "hi"',
        "back\\slash",
        "line\nbreak\ttab",
        "],[",
        "null",
        "",
        "ünï 😀",
    ]
    rows = []
    for i in range(n):
        row = {
            "date": f"2025-03-0{1 + i % 3}",  # the 3rd is outside the loaded days
            "campaignName": names[i % len(names)],
            "campaignId": 2**53 + i,
            "adGroupId": 2**60 + i,
            "adId": 2**62 + i,
            "portfolioId": None,
            "impressions": i,
            "clicks": i % 7,
            "advertisedSku": names[(i * 5) % len(names)],
        }
        text = json.dumps(row, ensure_ascii=i % 2 == 0)[:-1]  # \u escapes on even rows
        text += ', "cost": 1.50, "spend": 0, "sales7d": 1E+2, "acosClicks7d": -0.000, "purchases7d": 3, '
        text += ADS_REST.replace('"campaignName":"c",', "")
        if i % 97 == 5:
            text += ', "newColumn": 1'  # drift: that batch goes row by row
        if i % 89 == 7:
            text = text.replace(f'"adId": {2**62 + i}', f'"adId": "{2**62 + i}"')  # string id: same
        rows.append(text + "}")
    return ("[\n" + ",\n".join(rows) + "\n]\n").encode()


def test_ads_parser_fast_path_loads_exactly_what_the_row_path_loads(db: psycopg.Connection) -> None:
    from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows

    data = _tricky_ads_document(600)
    days = [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    select = (
        "select report_date, campaign_name, campaign_id, ad_group_id, ad_id, portfolio_id, impressions, clicks,"
        " advertised_sku, cost::text, spend::text, sales_7d::text, acos_clicks_7d::text, purchases_7d,"
        " marketplace, report_id from raw_amazon.ads_sp_advertised_product where profile_id = %s"
        " order by report_date, ad_id"
    )
    # fast: the parser's own iterator (small slices: many cuts, some inside strings) → CSV COPY
    fast_rows = SpAdvertisedProductRows(io.BytesIO(data), chunk_size=700)
    fast = replace_ads_advertised_product(
        db, marketplace=US, profile_id=1, days=days, rows=fast_rows, report_id='r"1'
    )
    # row path: the same parsed dicts, passed through a plain generator → write_row COPY
    slow = replace_ads_advertised_product(
        db,
        marketplace=US,
        profile_id=2,
        days=days,
        rows=(row for row in iter_sp_advertised_product_rows(io.BytesIO(data))),
        report_id='r"1',
    )
    assert dict(fast) == dict(slow) == {days[0]: 200, days[1]: 200}
    assert fast.ignored == slow.ignored == 200
    assert fast_rows.unknown_keys == {"newColumn": 7}
    loaded_fast = db.execute(select, (1,)).fetchall()
    assert loaded_fast == db.execute(select, (2,)).fetchall()
    assert len(loaded_fast) == 400
    strings = {r[1] for r in loaded_fast} | {r[8] for r in loaded_fast}
    assert strings == {
        "plain",
        'a},{"b":1},',
        'say "hi"',
        "back\\slash",
        "line\nbreak\ttab",
        "],[",
        "null",
        "",
        "ünï 😀",
    }
    first = loaded_fast[0]
    assert first[2:6] == (2**53, 2**60, 2**62, None)
    assert (first[9], first[10], first[12]) == ("1.50", "0", "0.000") and Decimal(first[11]) == 100
    assert first[13] == 3 and first[14:] == ("US", 'r"1')


def _random_ads_document(seed: int, n: int) -> bytes:
    import random

    from chalkola_pipelines.amazon.report_columns import ADS_REQUIRED_COLUMNS, SP_ADVERTISED_PRODUCT_COLUMNS

    required = {name for group in ADS_REQUIRED_COLUMNS for name in group}  # always with a value
    rnd = random.Random(seed)
    alphabet = [
        "a",
        "Z",
        " ",
        ",",
        '"',
        "\\",
        "\n",
        "\t",
        "\r",
        "}",
        "{",
        "]",
        "[",
        ":",
        "é",
        "日",
        "😀",
        "\x01",
        "null",
        "\\N",
    ]
    numbers = ["0", "-0.0", "1.50", "12", "1E+2", "2.5e-3", "123456789012.123456789", "-7.25", "0.0000"]
    rows = []
    for i in range(n):
        parts = [f'"date": "2025-03-0{1 + rnd.randrange(2)}"', f'"adId": {2**62 + i}']
        for c in SP_ADVERTISED_PRODUCT_COLUMNS:
            if c.name in ("date", "adId", "startDate", "endDate"):
                continue
            if rnd.random() < 0.2 and c.name not in required:
                continue  # missing → NULL
            if rnd.random() < 0.1 and c.name not in required:
                value = "null"
            elif c.kind == "text":
                value = json.dumps(
                    "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 6))),
                    ensure_ascii=rnd.random() < 0.5,
                )
            elif c.kind in ("id", "int"):
                value = str(rnd.randrange(0, 2**63))
            else:
                value = rnd.choice(numbers)
            parts.append(f'"{c.name}": {value}')
        rnd.shuffle(parts)
        rows.append("{" + rnd.choice([", ", ",", " ,\n "]).join(parts) + "}")
    return ("[" + rnd.choice(["\n", ""]) + ",".join(rows) + "]").encode()


def test_ads_fast_path_equals_row_path_on_random_documents(db: psycopg.Connection) -> None:
    from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows
    from chalkola_pipelines.warehouse.ads_tables import ADS_SP_ADVERTISED_PRODUCT_COLUMNS

    columns = ", ".join(f"{c}::text" for c in ADS_SP_ADVERTISED_PRODUCT_COLUMNS)
    select = (
        f"select {columns} from raw_amazon.ads_sp_advertised_product where profile_id = %s order by ad_id"
    )
    days = [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    for seed, chunk_size in ((1, 300), (2, 4096), (3, 1 << 20)):
        data = _random_ads_document(seed, 250)
        fast = replace_ads_advertised_product(
            db, marketplace=US, profile_id=10 + seed, days=days, report_id="r",
            rows=SpAdvertisedProductRows(io.BytesIO(data), chunk_size=chunk_size),
        )  # fmt: skip
        slow = replace_ads_advertised_product(
            db, marketplace=US, profile_id=20 + seed, days=days, report_id="r",
            rows=(row for row in iter_sp_advertised_product_rows(io.BytesIO(data))),
        )  # fmt: skip
        assert dict(fast) == dict(slow) and sum(fast.values()) == 250
        loaded_fast = [
            r[2:] for r in db.execute(select, (10 + seed,)).fetchall()
        ]  # minus marketplace, profile
        assert loaded_fast == [r[2:] for r in db.execute(select, (20 + seed,)).fetchall()], seed
        # and what was loaded is what the parser produced (values, not text: numeric keeps the literal's
        # scale, which Decimal equality ignores)
        typed = f"select {', '.join(ADS_SP_ADVERTISED_PRODUCT_COLUMNS[2:-1])} from raw_amazon.ads_sp_advertised_product"
        loaded = db.execute(f"{typed} where profile_id = %s order by ad_id", (10 + seed,)).fetchall()
        parsed = sorted(iter_sp_advertised_product_rows(io.BytesIO(data)), key=lambda r: r["ad_id"])
        assert loaded == [tuple(r[c] for c in ADS_SP_ADVERTISED_PRODUCT_COLUMNS[2:-1]) for r in parsed]


def test_ads_row_without_a_required_column_in_a_late_batch_loads_nothing(db: psycopg.Connection) -> None:
    """The fast path has sent earlier slices to COPY when a late row lacks a column the marts need: the load
    raises the parser's error (column, row, document) and the previous rows of the partitions stay."""
    from chalkola_pipelines.amazon.errors import AdsMissingFieldError
    from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows

    days = [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    select = "select report_date, ad_id, impressions, report_id from raw_amazon.ads_sp_advertised_product"
    select += " where profile_id = 77 order by 1, 2"
    good = _tricky_ads_document(300)
    replace_ads_advertised_product(
        db, marketplace=US, profile_id=77, days=days, report_id="good",
        rows=SpAdvertisedProductRows(io.BytesIO(good), chunk_size=700),
    )  # fmt: skip
    before = db.execute(select).fetchall()
    assert len(before) == 200
    for missing, bad in (
        ("impressions", good.replace(b'"impressions": 299, ', b"")),
        ("impressions", good.replace(b'"impressions": 299, ', b'"impressions": null, ')),
        ("cost or spend", good.replace(b'"cost": 1.50, "spend": 0, ', b"", 1)),  # in row 0
    ):
        assert bad != good
        rows = SpAdvertisedProductRows(io.BytesIO(bad), chunk_size=700)
        with pytest.raises(AdsMissingFieldError, match="no row of this document is loaded") as info:
            replace_ads_advertised_product(
                db, marketplace=US, profile_id=77, days=days, report_id="bad", rows=rows
            )
        assert info.value.field == missing
        assert db.execute(select).fetchall() == before
    only_cost = good.replace(b'"spend": 0, ', b"")  # cost alone is enough (spend = cost)
    n = replace_ads_advertised_product(
        db, marketplace=US, profile_id=77, days=days, report_id="cost",
        rows=SpAdvertisedProductRows(io.BytesIO(only_cost), chunk_size=700),
    )  # fmt: skip
    assert sum(n.values()) == 200
