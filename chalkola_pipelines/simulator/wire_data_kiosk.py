"""Data Kiosk ``analytics_salesAndTraffic_2024_04_24`` records, built from the S&T report of the same days.

Every figure the report also has (ordered sales, units, order items, sessions, page views, percentages,
byDate totals) is taken from :meth:`SalesAndTrafficReport.sales_and_traffic_document` for the same
marketplace and period, so Data Kiosk and the report agree to the cent. The measures only Data Kiosk has per
ASIN (shipped, refunded) are derived from them with a deterministic factor per (marketplace, ASIN, period).

Dates follow the schema's rules: the range *contracts* to whole weeks (Sunday–Saturday) or months; data
exists up to the marketplace-local yesterday (Business Reports data "updates only once daily"). Records are
full dicts (schema field names); :func:`project` keeps the requested fields under their response keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_DOWN, Decimal
from typing import Any

from chalkola_pipelines.simulator.dk_schema import TYPENAME, ParsedQuery, Projection

MAX_TREND_ASINS = 30


class DkQueryFatal(ValueError):
    """The query was accepted but cannot run (processingStatus FATAL, error document with this text)."""


def _local_yesterday(mkt: Any, now: dt.datetime) -> dt.date:
    return now.astimezone(mkt.tz).date() - dt.timedelta(days=1)


def contract(start: dt.date, end: dt.date, granularity: str) -> tuple[dt.date, dt.date]:
    """WEEK: start → following Sunday, end → preceding Saturday; MONTH: whole months inside the range."""
    if granularity == "WEEK":
        start = start + dt.timedelta(days=(6 - start.weekday()) % 7)  # Sunday is weekday 6
        end = end - dt.timedelta(days=(end.weekday() - 5) % 7)  # Saturday is weekday 5
    elif granularity == "MONTH":
        if start.day != 1:
            start = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        following = end + dt.timedelta(days=1)
        if following.day != 1:
            end = end.replace(day=1) - dt.timedelta(days=1)
    return start, end


def periods(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date]]:
    """The (first, last) days of each period of an already contracted range."""
    out = []
    day = start
    while day <= end:
        if granularity == "DAY":
            last = day
        elif granularity == "WEEK":
            last = day + dt.timedelta(days=6)
        else:
            last = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        out.append((day, last))
        day = last + dt.timedelta(days=1)
    return out


def _two_years_before(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - 2)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 2, day=28)


def _marketplace(seller: Any, marketplace_id: str, region: str) -> Any:
    try:
        mkt = seller.marketplace(marketplace_id)
    except ValueError:
        raise DkQueryFatal(f"Invalid marketplaceId: {marketplace_id}") from None
    if mkt.marketplace_id != marketplace_id or mkt.region != region:
        raise DkQueryFatal(f"Invalid marketplaceId for this region: {marketplace_id}")
    return mkt


def check_query(seller: Any, parsed: ParsedQuery, region: str, today: dt.date) -> None:
    """The limits the schema states in words: raise :class:`DkQueryFatal` when one is broken."""
    args = parsed.args
    start, end = args["startDate"], args["endDate"]
    if start < _two_years_before(today):
        raise DkQueryFatal(
            f"Invalid startDate {start.isoformat()}: the start date must be no more than two years ago"
        )
    if end < start:
        raise DkQueryFatal(f"Invalid date range: endDate {end} is before startDate {start}")
    if parsed.field == "salesAndTrafficTrends":
        if args["asinAggregation"] != "CHILD":
            raise DkQueryFatal(
                f"Invalid asinAggregation {args['asinAggregation']}: currently only CHILD is supported"
            )
        if not args["filters"]:
            raise DkQueryFatal("filters must contain at least one MarketplaceAsinFilter")
        for f in args["filters"]:
            if len(f["asins"]) > MAX_TREND_ASINS:
                raise DkQueryFatal(
                    f"Too many ASINs in the filter for marketplace {f['marketplaceId']}: {len(f['asins'])} "
                    f"(the maximum is {MAX_TREND_ASINS} child ASINs per filter)"
                )
            _marketplace(seller, f["marketplaceId"], region)
    else:
        if not args["marketplaceIds"]:
            raise DkQueryFatal("marketplaceIds must contain at least one marketplace id")
        for marketplace_id in args["marketplaceIds"]:
            _marketplace(seller, marketplace_id, region)


def estimated_rows(seller: Any, parsed: ParsedQuery) -> int:
    """A cheap size estimate (before computing anything): drives the simulated processing time."""
    args = parsed.args
    days = max(1, (args["endDate"] - args["startDate"]).days + 1)
    if parsed.field == "salesAndTrafficTrends":
        n_periods = len(periods(*contract(args["startDate"], args["endDate"], args["dateAggregation"]),
                                args["dateAggregation"]))  # fmt: skip
        return max(1, n_periods) * sum(len(f["asins"]) for f in args["filters"])
    if parsed.field == "salesAndTrafficByDate":
        return days * len(args["marketplaceIds"])
    return sum(len(seller._listings[seller.marketplace(m).code].products) for m in args["marketplaceIds"])


class _Reports:
    """S&T report documents computed once per (marketplace, period, granularities) within one query."""

    def __init__(self, seller: Any) -> None:
        self.seller = seller
        self._cache: dict[tuple[Any, ...], dict] = {}

    def get(self, mkt: Any, first: dt.date, last: dt.date, date_g: str, asin_g: str) -> dict:
        key = (mkt.code, first, last, date_g, asin_g)
        if key not in self._cache:
            self._cache[key] = self.seller.sales_and_traffic_document(
                mkt.marketplace_id, first, last, date_granularity=date_g, asin_granularity=asin_g
            )
        return self._cache[key]


def _factor(seed: int, *parts: Any) -> float:
    digest = hashlib.blake2b(":".join(str(p) for p in (seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _scaled_amount(amount: dict[str, Any], factor: float, exponent: int) -> dict[str, Any]:
    value = (Decimal(str(amount["amount"])) * Decimal(str(factor))).quantize(
        Decimal(1).scaleb(-exponent), rounding=ROUND_DOWN
    )
    number: int | Decimal = int(value) if value == value.to_integral_value() else value.normalize()
    return {"amount": number, "currencyCode": amount["currencyCode"]}


def _pct(part: int, whole: int) -> int | float:
    if not whole:
        return 0
    r = round(100.0 * part / whole, 2)
    return int(r) if r == int(r) else r


def _asin_sales(seller: Any, mkt: Any, entry: dict[str, Any], first: dt.date, last: dt.date) -> dict:
    """ByAsinSales: the report's salesByAsin plus shipped/refunded measures derived from it."""
    s = entry["salesByAsin"]
    exponent = seller._listings[mkt.code].eco.exponent
    ident = entry.get("sku") or entry.get("childAsin") or entry["parentAsin"]
    ship = 0.9 + 0.1 * _factor(seller.seed, "dk-ship", mkt.code, ident, first, last)
    refund = 0.01 + 0.03 * _factor(seller.seed, "dk-refund", mkt.code, ident, first, last)
    out: dict[str, Any] = {}
    for suffix in ("", "B2B"):
        units = int(s[f"unitsOrdered{suffix}"])
        items = int(s[f"totalOrderItems{suffix}"])
        refunded = int(units * refund)
        out[f"orderedProductSales{suffix}"] = s[f"orderedProductSales{suffix}"]
        out[f"shippedProductSales{suffix}"] = _scaled_amount(
            s[f"orderedProductSales{suffix}"], ship, exponent
        )
        out[f"unitsOrdered{suffix}"] = units
        out[f"unitsShipped{suffix}"] = int(units * ship)
        out[f"totalOrderItems{suffix}"] = items
        out[f"ordersShipped{suffix}"] = int(items * ship)
        out[f"unitsRefunded{suffix}"] = refunded
        out[f"refundRate{suffix}"] = _pct(refunded, units)
    return out


def _asin_record(seller: Any, mkt: Any, entry: dict[str, Any], first: dt.date, last: dt.date) -> dict:
    return {
        "parentAsin": entry["parentAsin"],
        "childAsin": entry.get("childAsin"),
        "sku": entry.get("sku"),
        "startDate": first.isoformat(),
        "endDate": last.isoformat(),
        "marketplaceId": mkt.marketplace_id,
        "sales": _asin_sales(seller, mkt, entry, first, last),
        "traffic": dict(entry["trafficByAsin"]),
    }


def _date_record(mkt: Any, entry: dict[str, Any], last: dt.date) -> dict:
    return {
        "startDate": entry["date"],
        "endDate": last.isoformat(),
        "marketplaceId": mkt.marketplace_id,
        "sales": dict(entry["salesByDate"]),
        "traffic": dict(entry["trafficByDate"]),
    }


def records(seller: Any, parsed: ParsedQuery, region: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Every record of the query (full, unprojected), in document order."""
    args = parsed.args
    reports = _Reports(seller)
    out: list[dict[str, Any]] = []
    if parsed.field == "salesAndTrafficTrends":
        granularity = args["dateAggregation"]
        for f in args["filters"]:
            mkt = _marketplace(seller, f["marketplaceId"], region)
            wanted = set(f["asins"])
            first, last = contract(args["startDate"], min(args["endDate"], _local_yesterday(mkt, now)),
                                   granularity)  # fmt: skip
            for p_first, p_last in periods(first, last, granularity):
                document = reports.get(mkt, p_first, p_last, "DAY", "CHILD")
                for entry in document["salesAndTrafficByAsin"]:
                    if entry["childAsin"] in wanted:
                        record = _asin_record(seller, mkt, entry, p_first, p_last)
                        out.append({"asinAggregation": "CHILD", **record})
        return out
    for marketplace_id in dict.fromkeys(args["marketplaceIds"]):
        mkt = _marketplace(seller, marketplace_id, region)
        end = min(args["endDate"], _local_yesterday(mkt, now))
        if parsed.field == "salesAndTrafficByDate":
            granularity = args["aggregateBy"]
            first, last = contract(args["startDate"], end, granularity)
            if first > last:
                continue
            ranges = dict(periods(first, last, granularity))
            document = reports.get(mkt, first, last, granularity, "PARENT")
            for entry in document["salesAndTrafficByDate"]:
                out.append(_date_record(mkt, entry, ranges[dt.date.fromisoformat(entry["date"])]))
        else:
            first = args["startDate"]
            if first > end:
                continue
            document = reports.get(mkt, first, end, "DAY", args["aggregateBy"])
            for entry in document["salesAndTrafficByAsin"]:
                out.append(_asin_record(seller, mkt, entry, first, end))
    return out


def project(record: dict[str, Any], projection: Projection, type_name: str = "") -> dict[str, Any]:
    """Only the requested fields, under their response keys (aliases), nested objects included."""
    out: dict[str, Any] = {}
    for key, (name, sub) in projection.items():
        if name.startswith(TYPENAME):
            out[key] = name[len(TYPENAME) :]
            continue
        value = record.get(name)
        out[key] = project(value, sub) if sub is not None and isinstance(value, dict) else value
    return out


def projected_records(seller: Any, parsed: ParsedQuery, region: str, now: dt.datetime) -> list[dict]:
    return [project(r, parsed.projection) for r in records(seller, parsed, region, now)]
