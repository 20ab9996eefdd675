"""COPY loaders against a real PostgreSQL: partition replace, atomicity, local days, exact types."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from types import SimpleNamespace

import psycopg
import pytest

from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_COLUMNS,
    SP_ADVERTISED_PRODUCT_COLUMNS,
    ST_BY_ASIN_FIELDS,
    ST_BY_DATE_FIELDS,
)
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.ads_tables import (
    ADS_SP_ADVERTISED_PRODUCT_COLUMNS,
    replace_ads_advertised_product,
    upsert_ads_profiles,
)
from chalkola_pipelines.warehouse.order_tables import ORDER_ITEM_COLUMNS, replace_order_items
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError
from chalkola_pipelines.warehouse.sales_traffic_tables import (
    ST_BY_ASIN_COLUMNS,
    ST_BY_DATE_COLUMNS,
    replace_sales_traffic_day,
)

US = get_marketplace("US")
JP = get_marketplace("JP")
UK = get_marketplace("UK")
UTC = dt.UTC
D1 = dt.date(2025, 3, 1)
D2 = dt.date(2025, 3, 2)
D3 = dt.date(2025, 3, 3)


# ---------------------------------------------------------------------------------------------- builders


def order_row(order_id: str, purchase: dt.datetime, **values: object) -> dict:
    row: dict = {c.column: None for c in ORDER_REPORT_COLUMNS}
    row.update(
        amazon_order_id=order_id,
        purchase_date=purchase,
        last_updated_date=purchase,
        order_status="Shipped",
        sku="SKU-1",
        asin="B000000001",
        quantity=1,
        currency="USD",
        item_price=Decimal("19.99"),
        extra_columns={},
    )
    row.update(values)
    return row


def ad_row(day: dt.date, ad_id: int, **values: object) -> dict:
    row: dict = {c.column: None for c in SP_ADVERTISED_PRODUCT_COLUMNS}
    row.update(
        report_date=day,
        campaign_id=111,
        campaign_name="Campaign",
        ad_group_id=222,
        ad_id=ad_id,
        advertised_asin="B000000001",
        advertised_sku="SKU-1",
        impressions=100,
        clicks=3,
        cost=Decimal("1.23"),
        spend=Decimal("1.23"),
        sales_7d=Decimal("20.00"),
        purchases_7d=1,
    )
    row.update(values)
    return row


def st_document(day: dt.date, asins: list[tuple[str, str, str]], sales: Decimal = Decimal("100.00")):
    by_date = {f.column: None for f in ST_BY_DATE_FIELDS}
    by_date.update(
        report_date=day, currency_code="USD", ordered_product_sales=sales, units_ordered=5, sessions=50
    )
    by_asin = []
    for parent, child, sku in asins:
        row = {f.column: None for f in ST_BY_ASIN_FIELDS}
        row.update(parent_asin=parent, child_asin=child, sku=sku, currency_code="USD")
        row.update(
            units_ordered=1,
            ordered_product_sales=Decimal("12.34"),
            sessions=7,
            buy_box_percentage=Decimal("99.5"),
        )
        by_asin.append(row)
    return SimpleNamespace(report_specification={}, by_date=[by_date], by_asin=by_asin, unknown_fields=set())


def count(conn: psycopg.Connection, sql: str, *params: object) -> int:
    return conn.execute(sql, params).fetchone()[0]


# ---------------------------------------------------------------------------------------------- catalogue


def test_columns_follow_the_catalogue_and_the_ddl(db: psycopg.Connection) -> None:
    def table_columns(table: str) -> set[str]:
        schema, name = table.split(".")
        rows = db.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            (schema, name),
        ).fetchall()
        return {r[0] for r in rows}

    for table, columns in (
        ("raw_amazon.sp_sales_traffic_by_date", ST_BY_DATE_COLUMNS),
        ("raw_amazon.sp_sales_traffic_by_asin", ST_BY_ASIN_COLUMNS),
        ("raw_amazon.sp_order_items", ORDER_ITEM_COLUMNS),
        ("raw_amazon.ads_sp_advertised_product", ADS_SP_ADVERTISED_PRODUCT_COLUMNS),
    ):
        assert len(set(columns)) == len(columns)
        # every loaded column exists, and every table column is loaded except loaded_at
        assert table_columns(table) - set(columns) == {"loaded_at"}, table


def test_no_pii_columns_anywhere_in_raw_amazon(db: psycopg.Connection) -> None:
    rows = db.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'raw_amazon'"
        " and (column_name in ('ship_city', 'ship_postal_code', 'cpf', 'ship_address', 'buyer_email', 'buyer_name')"
        " or column_name like 'buyer%%' or column_name like 'recipient%%' or column_name like 'ship_address%%'"
        " or column_name like 'ship_phone%%' or column_name like 'bill%%')"
    ).fetchall()
    assert rows == []
    assert "ship_city" not in ORDER_ITEM_COLUMNS and "ship_postal_code" not in ORDER_ITEM_COLUMNS


# ---------------------------------------------------------------------------------------------- sales & traffic


def test_sales_traffic_load_reload_and_exact_money(db: psycopg.Connection) -> None:
    doc = st_document(
        D1, [("P1", "C1", "S1"), ("P1", "C2", ""), ("P2", "", "")], sales=Decimal("12345678.91")
    )
    assert replace_sales_traffic_day(db, marketplace=US, day=D1, document=doc, report_id="r1") == (1, 3)
    assert replace_sales_traffic_day(db, marketplace=US, day=D1, document=doc, report_id="r2") == (1, 3)
    assert count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_date") == 1
    assert count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_asin") == 3
    sales, mkt_id, report = db.execute(
        "select ordered_product_sales, marketplace_id, report_id from raw_amazon.sp_sales_traffic_by_date"
    ).fetchone()
    assert sales == Decimal("12345678.91") and mkt_id == US.marketplace_id and report == "r2"
    asin = db.execute(
        "select report_date, ordered_product_sales, buy_box_percentage from raw_amazon.sp_sales_traffic_by_asin"
        " where child_asin = 'C1'"
    ).fetchone()
    assert asin == (D1, Decimal("12.34"), Decimal("99.5"))


def test_sales_traffic_other_days_untouched_and_foreign_by_date_rows_ignored(db: psycopg.Connection) -> None:
    replace_sales_traffic_day(
        db, marketplace=US, day=D1, document=st_document(D1, [("P", "C", "")]), report_id="a"
    )
    replace_sales_traffic_day(
        db, marketplace=UK, day=D1, document=st_document(D1, [("P", "C", "")]), report_id="b"
    )
    doc = st_document(D2, [("P", "C", "")])
    doc.by_date.append({**doc.by_date[0], "report_date": D3})  # a day the report was not requested for
    assert replace_sales_traffic_day(db, marketplace=US, day=D2, document=doc, report_id="c") == (1, 1)
    assert count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_date") == 3
    assert (
        count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_date where report_date = %s", D3) == 0
    )
    # an empty (CANCELLED = no data) document empties the day
    empty = SimpleNamespace(by_date=[], by_asin=[])
    assert replace_sales_traffic_day(db, marketplace=US, day=D1, document=empty, report_id="d") == (0, 0)
    assert count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_asin where marketplace = 'US'") == 1


def test_sales_traffic_failure_leaves_old_rows(db: psycopg.Connection) -> None:
    replace_sales_traffic_day(
        db,
        marketplace=US,
        day=D1,
        document=st_document(D1, [("P", "C1", ""), ("P", "C2", "")]),
        report_id="good",
    )
    duplicate = st_document(D1, [("P", "C9", ""), ("P", "C9", "")])  # primary key violation in the new rows
    with pytest.raises(WarehouseLoadError, match=r"report bad.*previous rows are intact"):
        replace_sales_traffic_day(db, marketplace=US, day=D1, document=duplicate, report_id="bad")
    rows = db.execute(
        "select child_asin, report_id from raw_amazon.sp_sales_traffic_by_asin order by 1"
    ).fetchall()
    assert rows == [("C1", "good"), ("C2", "good")]
    assert count(db, "select count(*) from raw_amazon.sp_sales_traffic_by_date where report_id = 'good'") == 1


# ---------------------------------------------------------------------------------------------- order items


def test_order_items_local_day_across_utc_midnight_jp_and_us(db: psycopg.Connection) -> None:
    # 2025-03-01T16:30Z is 2025-03-02 01:30 in Tokyo; 2025-03-02T07:30Z is 2025-03-01 23:30 in Los Angeles.
    jp_rows = [
        order_row("JP-1", dt.datetime(2025, 3, 1, 14, 59, tzinfo=UTC)),  # 23:59 JST → D1
        order_row("JP-2", dt.datetime(2025, 3, 1, 16, 30, tzinfo=UTC)),  # → D2
    ]
    counts = replace_order_items(db, marketplace=JP, days=[D1, D2], rows=jp_rows, report_id="jp")
    assert dict(counts) == {D1: 1, D2: 1} and counts.ignored == 0
    us_rows = [
        order_row("US-1", dt.datetime(2025, 3, 2, 7, 30, tzinfo=UTC)),  # 23:30 PST on D1
        order_row("US-2", dt.datetime(2025, 3, 2, 8, 0, tzinfo=UTC)),  # 00:00 PST on D2
    ]
    counts = replace_order_items(db, marketplace=US, days=[D1, D2], rows=us_rows, report_id="us")
    assert dict(counts) == {D1: 1, D2: 1}
    got = db.execute(
        "select marketplace, amazon_order_id, order_date from raw_amazon.sp_order_items order by 2"
    ).fetchall()
    assert got == [("JP", "JP-1", D1), ("JP", "JP-2", D2), ("US", "US-1", D1), ("US", "US-2", D2)]


def test_order_items_line_numbers_ignored_rows_reload_and_empty_days(db: psycopg.Connection) -> None:
    t = dt.datetime(2025, 3, 1, 18, 0, tzinfo=UTC)  # 10:00 PST on D1
    rows = [
        order_row("A", t, sku="A1"),
        order_row("B", t, sku="B1"),
        order_row("A", t, sku="A2", extra_columns={"new-column": "x"}),
        order_row("A", t, sku="A3"),
        order_row("OUT", dt.datetime(2025, 3, 5, 18, 0, tzinfo=UTC)),  # outside the requested days
    ]
    days = [D1, D2, D3]
    counts = replace_order_items(db, marketplace=US, days=days, rows=iter(rows), report_id="r1")
    assert dict(counts) == {D1: 4, D2: 0, D3: 0} and counts.ignored == 1
    got = db.execute(
        "select amazon_order_id, line_number, sku, extra_columns from raw_amazon.sp_order_items order by 1, 2"
    ).fetchall()
    assert got == [
        ("A", 1, "A1", {}),
        ("A", 2, "A2", {"new-column": "x"}),
        ("A", 3, "A3", {}),
        ("B", 1, "B1", {}),
    ]
    # re-running the same partitions never duplicates
    counts = replace_order_items(db, marketplace=US, days=days, rows=iter(rows), report_id="r1")
    assert sum(counts.values()) == 4
    assert count(db, "select count(*) from raw_amazon.sp_order_items") == 4
    # a later report in which D1 has no orders empties D1
    counts = replace_order_items(db, marketplace=US, days=[D1], rows=[], report_id="r2")
    assert dict(counts) == {D1: 0}
    assert count(db, "select count(*) from raw_amazon.sp_order_items") == 0


def test_order_items_failure_mid_stream_leaves_old_rows(db: psycopg.Connection) -> None:
    t = dt.datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    replace_order_items(db, marketplace=US, days=[D1], rows=[order_row("OLD", t)], report_id="old")

    def broken():
        yield order_row("NEW-1", t)
        yield order_row("NEW-2", t)
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        replace_order_items(db, marketplace=US, days=[D1], rows=broken(), report_id="new")
    with pytest.raises(WarehouseLoadError, match="no amazon-order-id"):
        replace_order_items(
            db, marketplace=US, days=[D1], rows=[order_row("NEW", t), order_row("", t)], report_id="x"
        )
    with pytest.raises(WarehouseLoadError, match="timezone-aware"):
        replace_order_items(
            db, marketplace=US, days=[D1], rows=[order_row("N", t.replace(tzinfo=None))], report_id="y"
        )
    with pytest.raises(WarehouseLoadError, match="item_price is a float"):
        replace_order_items(
            db, marketplace=US, days=[D1], rows=[order_row("N", t, item_price=19.99)], report_id="z"
        )
    assert db.execute("select amazon_order_id, report_id from raw_amazon.sp_order_items").fetchall() == [
        ("OLD", "old")
    ]
    # the connection is still usable after the failures
    assert (
        replace_order_items(db, marketplace=US, days=[D1], rows=[order_row("NEW", t)], report_id="n")[D1] == 1
    )


def test_order_items_money_exact_and_types(db: psycopg.Connection) -> None:
    t = dt.datetime(2025, 3, 1, 18, 0, 5, tzinfo=UTC)
    row = order_row(
        "M", t, item_price=Decimal("1234567.89"), item_tax=Decimal("0.01"), is_business_order=True, quantity=3
    )
    replace_order_items(db, marketplace=US, days=[D1], rows=[row], report_id="m")
    got = db.execute(
        "select item_price, item_tax, is_business_order, quantity, purchase_date from raw_amazon.sp_order_items"
    ).fetchone()
    assert got == (Decimal("1234567.89"), Decimal("0.01"), True, 3, t)


def test_concurrent_replaces_of_the_same_partition_serialise(make_database) -> None:
    url = make_database(migrate=True)
    t = dt.datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def load(n: int) -> None:
        try:
            with psycopg.connect(url, prepare_threshold=None) as conn:
                barrier.wait()
                rows = [order_row(f"O-{i}", t) for i in range(200)]
                replace_order_items(conn, marketplace=US, days=[D1], rows=rows, report_id=f"r{n}")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert errors == []
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select count(*), count(distinct report_id) from raw_amazon.sp_order_items"
        ).fetchone() == (200, 1)


# ---------------------------------------------------------------------------------------------- ads


def test_ads_big_ids_exact_reload_and_per_profile_days(db: psycopg.Connection) -> None:
    big = 2**53 + 1
    huge = 2**63 - 1
    rows = [
        ad_row(
            D1, big, campaign_id=huge, ad_group_id=2**60 + 3, portfolio_id=2**53 + 7, cost=Decimal("12.34")
        ),
        ad_row(D1, 5),
        ad_row(D2, big),
        ad_row(D3, big),  # outside the requested days
    ]
    counts = replace_ads_advertised_product(
        db, marketplace=US, profile_id=big, days=[D1, D2], rows=rows, report_id="a1"
    )
    assert dict(counts) == {D1: 2, D2: 1} and counts.ignored == 1
    counts = replace_ads_advertised_product(
        db, marketplace=US, profile_id=big, days=[D1, D2], rows=rows, report_id="a1"
    )
    assert count(db, "select count(*) from raw_amazon.ads_sp_advertised_product") == 3
    got = db.execute(
        "select profile_id, campaign_id, ad_group_id, portfolio_id, ad_id, cost, marketplace"
        " from raw_amazon.ads_sp_advertised_product where report_date = %s and ad_id = %s",
        (D1, big),
    ).fetchone()
    assert got == (big, huge, 2**60 + 3, 2**53 + 7, big, Decimal("12.34"), "US")
    # another profile's rows for the same days are untouched; a day without rows is emptied
    replace_ads_advertised_product(
        db, marketplace=UK, profile_id=77, days=[D1], rows=[ad_row(D1, 1)], report_id="b"
    )
    counts = replace_ads_advertised_product(
        db, marketplace=US, profile_id=big, days=[D2], rows=[], report_id="a2"
    )
    assert dict(counts) == {D2: 0}
    assert count(db, "select count(*) from raw_amazon.ads_sp_advertised_product where profile_id = 77") == 1
    assert (
        count(db, "select count(*) from raw_amazon.ads_sp_advertised_product where profile_id = %s", big) == 2
    )


def test_ads_failure_leaves_old_rows(db: psycopg.Connection) -> None:
    replace_ads_advertised_product(
        db, marketplace=US, profile_id=1, days=[D1], rows=[ad_row(D1, 1)], report_id="old"
    )
    with pytest.raises(WarehouseLoadError, match="ads spAdvertisedProduct profile 1"):
        replace_ads_advertised_product(
            db,
            marketplace=US,
            profile_id=1,
            days=[D1],
            rows=[ad_row(D1, 2), ad_row(D1, None)],
            report_id="new",
        )
    with pytest.raises(WarehouseLoadError, match="campaign_id is a float"):
        replace_ads_advertised_product(
            db,
            marketplace=US,
            profile_id=1,
            days=[D1],
            rows=[ad_row(D1, 2, campaign_id=1.0e17)],
            report_id="new",
        )
    with pytest.raises(WarehouseLoadError, match="no valid date"):
        replace_ads_advertised_product(
            db,
            marketplace=US,
            profile_id=1,
            days=[D1],
            rows=[ad_row(None, 2)],
            report_id="new",  # type: ignore[arg-type]
        )
    assert db.execute("select ad_id, report_id from raw_amazon.ads_sp_advertised_product").fetchall() == [
        (1, "old")
    ]


def test_upsert_ads_profiles(db: psycopg.Connection) -> None:
    profiles = [
        {"profileId": 3530193827159538, "countryCode": "UK", "currencyCode": "GBP", "dailyBudget": Decimal("10.50"),
         "timezone": "Europe/London",
         "accountInfo": {"marketplaceStringId": "A1F83G8C2ARO7P", "id": "A3LUQZ2NBMFGO4", "type": "seller"}},
        {"profileId": 2**53 + 1, "countryCode": "US", "currencyCode": "USD", "timezone": "America/Los_Angeles",
         "accountInfo": {"marketplaceStringId": "ATVPDKIKX0DER", "id": "ENTITY1", "type": "vendor", "name": "KDP",
                         "subType": "KDP_AUTHOR", "validPaymentMethod": True}},
    ]  # fmt: skip
    assert upsert_ads_profiles(db, region="eu", profiles=profiles, request_id="req-1") == 2
    profiles[0]["dailyBudget"] = Decimal("99.99")
    assert upsert_ads_profiles(db, region="eu", profiles=profiles[:1], request_id="req-2") == 1
    got = db.execute(
        "select profile_id, marketplace, daily_budget, account_type, account_sub_type, valid_payment_method, request_id"
        " from raw_amazon.ads_profiles order by profile_id"
    ).fetchall()
    assert got == [
        (3530193827159538, "UK", Decimal("99.99"), "seller", None, None, "req-2"),
        (2**53 + 1, "US", None, "vendor", "KDP_AUTHOR", True, "req-1"),
    ]
    with pytest.raises(WarehouseLoadError, match="profileId"):
        upsert_ads_profiles(db, region="na", profiles=[{"profileId": 1.5e15}], request_id=None)
    with pytest.raises(WarehouseLoadError, match="dailyBudget is a float"):
        upsert_ads_profiles(db, region="na", profiles=[{"profileId": 1, "dailyBudget": 0.1}], request_id=None)
    assert count(db, "select count(*) from raw_amazon.ads_profiles") == 2


# ---------------------------------------------------------------------------------------------- pooler


def test_loaders_leave_no_server_side_prepared_statements(db: psycopg.Connection) -> None:
    assert db.prepare_threshold is None
    t = dt.datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    for i in range(8):  # psycopg's default threshold would prepare after 5 executions
        replace_sales_traffic_day(
            db, marketplace=US, day=D1, document=st_document(D1, [("P", "C", "")]), report_id=f"s{i}"
        )
        replace_order_items(db, marketplace=US, days=[D1], rows=[order_row("O", t)], report_id=f"o{i}")
        replace_ads_advertised_product(
            db, marketplace=US, profile_id=1, days=[D1], rows=[ad_row(D1, 1)], report_id=f"a{i}"
        )
        upsert_ads_profiles(db, region="na", profiles=[{"profileId": 1}], request_id=f"p{i}")
    assert count(db, "select count(*) from pg_prepared_statements") == 0


def test_prepared_statement_check_can_fail(make_database) -> None:
    # The control for the test above: psycopg's default settings DO prepare server-side.
    with psycopg.connect(make_database()) as conn:
        for _ in range(8):
            conn.execute("select %s::int", (1,))
        assert conn.execute("select count(*) from pg_prepared_statements").fetchone()[0] > 0


def test_each_load_commits_on_its_own(make_database, caplog) -> None:
    url = make_database(migrate=True)
    t = dt.datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    with (
        psycopg.connect(url, prepare_threshold=None) as conn,
        psycopg.connect(url, autocommit=True) as reader,
    ):
        replace_order_items(conn, marketplace=US, days=[D1], rows=[order_row("A", t)], report_id="r")
        assert count(reader, "select count(*) from raw_amazon.sp_order_items") == 1  # visible: committed
        assert "open transaction" not in caplog.text
        # a caller's open transaction turns the load into a savepoint: allowed, but warned about
        conn.execute("select 1")
        replace_order_items(
            conn, marketplace=US, days=[D2], rows=[order_row("B", t + dt.timedelta(days=1))], report_id="r"
        )
        assert "open transaction" in caplog.text
        assert count(reader, "select count(*) from raw_amazon.sp_order_items") == 1
        conn.rollback()
    with psycopg.connect(url) as check:
        assert count(check, "select count(*) from raw_amazon.sp_order_items") == 1
