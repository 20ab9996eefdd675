"""Report document bodies built from the SyntheticSeller (uncompressed bytes; the caller gzips)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.simulator.document_encoding import (
    EXTRA_COLUMN_NAME,
    add_extra_field_rows,
    add_extra_field_sales_traffic,
    blank_tsv_field,
    drop_field_rows,
    drop_field_sales_traffic,
    dumps_json,
    tsv_bytes,
)
from chalkola_pipelines.simulator.reports import AdsReport, SpReport

SALES_AND_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"
ORDERS_BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
SUPPORTED_REPORT_TYPES = (SALES_AND_TRAFFIC, ORDERS_BY_ORDER_DATE)


def error_document(report: SpReport) -> bytes:
    """The document a FATAL report points to."""
    return dumps_json({"errorDetails": report.error_message or "The report could not be generated."})


def sp_report_document(
    seller: Any, report: SpReport, *, extra_field: bool = False, missing_field: str | None = None
) -> bytes:
    """The DONE document of ``report``: S&T JSON or the order flat file (TSV, one row per item).

    ``missing_field`` (the fault): drop that required field from the last row ("" = the default field)."""
    if report.data_start is None or report.data_end is None:
        raise ValueError(f"report {report.report_id} has no data window")
    if report.report_type == SALES_AND_TRAFFIC:
        document = seller.sales_and_traffic_document(
            report.marketplace_ids[0],
            report.data_start.date(),  # "format date": the time part is ignored
            report.data_end.date(),
            date_granularity=report.options.get("dateGranularity", "DAY"),
            asin_granularity=report.options.get("asinGranularity", "PARENT"),
        )
        if extra_field:
            document = add_extra_field_sales_traffic(document)
        if missing_field is not None:
            document = drop_field_sales_traffic(document, missing_field)
        return dumps_json(document)
    if report.report_type == ORDERS_BY_ORDER_DATE:
        start = report.data_start.astimezone(dt.UTC)
        # dataEndTime is inclusive (the pipeline sends …:59:59 for a day ending at the next midnight)
        end = report.data_end.astimezone(dt.UTC) + dt.timedelta(microseconds=1)
        # Amazon ignores marketplaceIds here: every marketplace of the account in the region, + MCF rows
        rows = seller.region_order_report_rows(report.region, start, end)
        rows.sort(key=lambda r: (r.get("purchase-date", ""), r.get("amazon-order-id", "")))
        header = list(ORDER_REPORT_OFFICIAL_HEADER)
        if extra_field:
            header.append(EXTRA_COLUMN_NAME)
            rows = [{**r, EXTRA_COLUMN_NAME: "drift"} for r in rows]
        if missing_field is not None:
            rows = blank_tsv_field(rows, missing_field)
        return tsv_bytes(header, rows)
    raise ValueError(f"report type {report.report_type} has no document generator")


def ads_report_document(
    seller: Any, report: AdsReport, *, extra_field: bool = False, missing_field: str | None = None
) -> bytes:
    """spAdvertisedProduct: a JSON array of row objects keyed by the requested columns (``missing_field``:
    that column dropped from the last row, "" = the default)."""
    config = report.configuration
    rows = list(
        seller.sp_advertised_product_rows(
            report.profile_id,
            report.start_date,
            report.end_date,
            list(config["columns"]),
            time_unit=config["timeUnit"],
        )
    )
    statuses = _ad_creative_status_filter(config)
    if statuses is not None:
        rows = [r for r in rows if r.get("adCreativeStatus", r.get("campaignStatus", "ENABLED")) in statuses]
    columns = list(config["columns"])
    rows = [{c: row.get(c) for c in columns} for row in rows]
    if extra_field:
        rows = add_extra_field_rows(rows)
    if missing_field is not None:
        rows = drop_field_rows(rows, missing_field)
    return dumps_json(rows)


def _ad_creative_status_filter(config: dict[str, Any]) -> set[str] | None:
    for f in config.get("filters") or []:
        if f.get("field") == "adCreativeStatus":
            return set(f.get("values") or [])
    return None
