"""The all-orders report as Amazon serves it: the whole region whatever ``marketplaceIds`` says, rows named by
``sales-channel``, multi-channel fulfilment orders as ``Non-Amazon`` (amazon-facts §8.3)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections import Counter

import httpx
from simulator_helpers import ORDERS, US, call, create_report, download, lwa_token, wait_report

from chalkola_pipelines.marketplaces import get_marketplace, iso_z

DE = get_marketplace("DE").marketplace_id


def _document_rows(
    sp: httpx.Client, marketplace_ids: list[str], start: dt.datetime, end: dt.datetime
) -> list[dict]:
    report_id = create_report(sp, ORDERS, marketplace_ids, iso_z(start), iso_z(end)).json()["reportId"]
    report = wait_report(sp, report_id)
    assert report["processingStatus"] == "DONE", report
    assert report["marketplaceIds"] == marketplace_ids  # the request is echoed, the content ignores it
    meta = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    text = gzip.decompress(download(meta["url"]).content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def _day() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=4)


def test_a_us_report_holds_every_north_american_marketplace_and_mcf(sim, sp) -> None:
    day = _day()
    start, end = get_marketplace("US").local_day_window_utc(day)
    rows = _document_rows(sp, [US], start, end - dt.timedelta(seconds=1))
    channels = Counter(r["sales-channel"] for r in rows)
    assert set(channels) == {"Amazon.com", "Amazon.ca", "Amazon.com.mx", "Non-Amazon"}
    truth = sim.state.truth
    # US, CA and MX share America/Los_Angeles in the catalogue: the window is each one's local day
    for code, channel in (("US", "Amazon.com"), ("CA", "Amazon.ca"), ("MX", "Amazon.com.mx")):
        expected = truth.order_items(code, day)
        got = [
            (r["amazon-order-id"], r["asin"], int(r["quantity"]))
            for r in rows
            if r["sales-channel"] == channel
        ]
        assert sorted(got) == sorted(expected) and expected, code
        assert sum(q for _, _, q in got) == truth.units_ordered(code, day)  # = S&T units
    mcf = [r for r in rows if r["sales-channel"] == "Non-Amazon"]
    expected_mcf = sum((truth.mcf_order_items(c, day) for c in ("US", "CA", "MX")), [])
    assert sorted((r["amazon-order-id"], r["asin"], int(r["quantity"])) for r in mcf) == sorted(expected_mcf)
    # a realistic share: a few percent of the region's rows, never priced (the other shop sets the price)
    assert 0.005 < len(mcf) / len(rows) < 0.08
    assert all(r["item-price"] == "" and r["currency"] == "" and r["merchant-order-id"] for r in mcf)
    assert all(r["amazon-order-id"].startswith("S01-") for r in mcf)
    # no order is under two channels
    by_order: dict[str, set[str]] = {}
    for r in rows:
        by_order.setdefault(r["amazon-order-id"], set()).add(r["sales-channel"])
    assert all(len(v) == 1 for v in by_order.values())


def test_the_same_window_asked_for_another_marketplace_is_the_same_document(sim, sp) -> None:
    day = _day() - dt.timedelta(days=1)
    start, end = get_marketplace("US").local_day_window_utc(day)
    ca = get_marketplace("CA").marketplace_id
    as_us = _document_rows(sp, [US], start, end - dt.timedelta(seconds=1))
    as_ca = _document_rows(sp, [ca], start, end - dt.timedelta(seconds=1))
    as_all = _document_rows(sp, [US, ca], start, end - dt.timedelta(seconds=1))
    assert as_us == as_ca == as_all


def test_a_de_report_holds_the_european_marketplaces(sim) -> None:
    token = lwa_token(sim.base_url, "sp", "eu")
    day = _day()
    start, _ = get_marketplace("DE").local_day_window_utc(day)
    _, end = get_marketplace("UK").local_day_window_utc(day)
    with httpx.Client(
        base_url=f"{sim.base_url}/sp/eu", headers={"x-amz-access-token": token}, timeout=30
    ) as eu:
        rows = _document_rows(eu, [DE], start, end - dt.timedelta(seconds=1))
    channels = Counter(r["sales-channel"] for r in rows)
    seller_eu = {m.sales_channel for m in sim.state.seller.marketplaces if m.region == "eu"}
    assert set(channels) == seller_eu | {"Non-Amazon"}
    uk_day = [
        (r["amazon-order-id"], r["asin"], int(r["quantity"]))
        for r in rows
        if r["sales-channel"] == "Amazon.co.uk"
        and get_marketplace("UK").local_date_of(dt.datetime.fromisoformat(r["purchase-date"])) == day
    ]  # the window starts at Paris's midnight: London's previous day ends inside it
    assert sorted(uk_day) == sorted(sim.state.truth.order_items("UK", day))


def test_mcf_orders_are_not_in_sales_and_traffic(sim) -> None:
    truth = sim.state.truth
    day = _day()
    for code in ("US", "DE", "JP"):
        assert truth.order_units(code, day) == truth.units_ordered(code, day)  # Amazon orders only
        assert truth.mcf_order_items(code, day) is not None
        amazon_ids = {o for o, _, _ in truth.order_items(code, day)}
        assert not amazon_ids & {o for o, _, _ in truth.mcf_order_items(code, day)}
