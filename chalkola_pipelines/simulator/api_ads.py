"""Ads API: profiles (v2) and asynchronous reports (reporting v3, spAdvertisedProduct)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS
from chalkola_pipelines.simulator.api_downloads import ads_content, presigned_url
from chalkola_pipelines.simulator.api_params import json_body
from chalkola_pipelines.simulator.api_pipeline import JSON, ApiError, Ctx, json_response
from chalkola_pipelines.simulator.reports import ADS_URL_TTL, AdsReport, iso_ms

ADS_MAX_RANGE_DAYS = 31
ADS_RETENTION_DAYS = 95
ADS_COLUMNS = frozenset(c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS)
ADS_CREATE_MEDIA_TYPES = ("application/vnd.createasyncreportrequest.v3+json", JSON)
ADS_CREATE_RESPONSE = "application/vnd.createasyncreportresponse.v3+json"
ADS_GET_RESPONSE = "application/vnd.getasyncreportresponse.v3+json"
ADS_DELETE_RESPONSE = "application/vnd.deleteasyncreportresponse.v3+json"
ADS_FAILURE_REASON = "Report generation failed due to an internal error. Please retry"


async def list_profiles(ctx: Ctx) -> Response:
    return json_response(200, list(ctx.state.seller.ads_profiles(ctx.region)))


def _ads_400(detail: str) -> ApiError:
    return ApiError(400, "400", detail)


def _parse_ads_date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str):
        raise _ads_400(f"{name} is required and must be a YYYY-MM-DD string")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _ads_400(f"{name} {value!r} is not a valid YYYY-MM-DD date") from None


def _profile_today(ctx: Ctx, profile_id: int) -> dt.date:
    for profile in ctx.state.seller.ads_profiles(ctx.region):
        if int(profile.get("profileId", -1)) == profile_id and profile.get("timezone"):
            return ctx.state.clock.now().astimezone(ZoneInfo(profile["timezone"])).date()
    return ctx.state.clock.today()


def _validate_ads_configuration(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise _ads_400("configuration is required and must be an object")
    required = ("adProduct", "columns", "format", "groupBy", "reportTypeId", "timeUnit")
    missing = [k for k in required if config.get(k) in (None, "", [])]
    if missing:
        raise _ads_400(f"configuration is missing required fields: {', '.join(missing)}")
    if config["reportTypeId"] != "spAdvertisedProduct":
        raise _ads_400(
            f"reportTypeId {config['reportTypeId']!r} is not supported by the chalkola simulator "
            "(supported: spAdvertisedProduct)"
        )
    if config["adProduct"] != "SPONSORED_PRODUCTS":
        raise _ads_400(f"adProduct {config['adProduct']!r} is invalid for reportTypeId spAdvertisedProduct")
    if config["groupBy"] != ["advertiser"]:
        raise _ads_400(
            f"groupBy {config['groupBy']!r} is invalid for spAdvertisedProduct. Allowed: (advertiser)"
        )
    columns = config["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _ads_400("configuration columns must be a non-empty array of strings")
    invalid = [c for c in columns if c not in ADS_COLUMNS]
    if invalid:
        raise _ads_400(
            f"configuration columns includes invalid values: ({', '.join(invalid)}) for reportTypeId spAdvertisedProduct"
        )
    if config["timeUnit"] not in ("DAILY", "SUMMARY"):
        raise _ads_400(f"timeUnit {config['timeUnit']!r} is invalid: DAILY or SUMMARY")
    if config["timeUnit"] == "DAILY" and {"startDate", "endDate"} & set(columns):
        raise _ads_400("columns startDate and endDate are only supported with timeUnit SUMMARY")
    if config["timeUnit"] == "SUMMARY" and "date" in columns:
        raise _ads_400("column date is only supported with timeUnit DAILY")
    if config["format"] != "GZIP_JSON":
        raise _ads_400(f"format {config['format']!r} is invalid for spAdvertisedProduct: GZIP_JSON")
    filters = config.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            raise _ads_400("configuration filters must be an array or null")
        for f in filters:
            field = f.get("field") if isinstance(f, dict) else None
            if field != "adCreativeStatus":
                raise _ads_400(
                    f"configuration filters includes fields: ({field}) which are invalid for groupBys: advertiser. "
                    "Allowed filters for groupBy advertiser: (field: adCreativeStatus, values: ENABLED, PAUSED, ARCHIVED)"
                )
            values = f.get("values")
            if (
                not isinstance(values, list)
                or not values
                or any(v not in ("ENABLED", "PAUSED", "ARCHIVED") for v in values)
            ):
                raise _ads_400("adCreativeStatus filter values must be among ENABLED, PAUSED, ARCHIVED")
    return {**config, "filters": filters}


async def create_async_report(ctx: Ctx) -> Response:
    media_type = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ADS_CREATE_MEDIA_TYPES:
        raise ApiError(
            415,
            "415",
            f"Content-Type {media_type or '(none)'} is not supported: use {ADS_CREATE_MEDIA_TYPES[0]}",
        )
    body = await json_body(ctx)
    if not isinstance(body, dict):
        raise _ads_400("The request body must be a CreateAsyncReportRequest object")
    assert ctx.profile_id is not None
    config = _validate_ads_configuration(body.get("configuration"))
    start = _parse_ads_date(body.get("startDate"), "startDate")
    end = _parse_ads_date(body.get("endDate"), "endDate")
    if end < start:
        raise _ads_400("endDate must be on or after startDate")
    if (end - start).days + 1 > ADS_MAX_RANGE_DAYS:
        raise _ads_400(
            f"Report date range ({start} to {end}, {(end - start).days + 1} days) exceeds the maximum of "
            f"{ADS_MAX_RANGE_DAYS} days for spAdvertisedProduct"
        )
    today = _profile_today(ctx, ctx.profile_id)
    earliest = today - dt.timedelta(days=ADS_RETENTION_DAYS)
    if start < earliest:
        raise _ads_400(
            f"startDate {start} is older than the {ADS_RETENTION_DAYS}-day data retention of "
            f"spAdvertisedProduct (earliest: {earliest})"
        )
    if end > today:
        raise _ads_400(f"endDate {end} is in the future (today is {today} in the profile's time zone)")
    name = body.get("name")
    state = ctx.state
    probe = AdsReport(
        report_id="", region=ctx.region, profile_id=ctx.profile_id, name=None, start_date=start,
        end_date=end, configuration=config, created_at=state.clock.now(), created_sim=0.0,
        pending_seconds=0.0, processing_seconds=0.0, outcome="COMPLETED",
    )  # fmt: skip
    duplicate = state.reports.find_in_flight_ads_report(probe.request_key())
    if duplicate is not None:
        raise ApiError(425, "425", f"The Request is a duplicate of : {duplicate.report_id}")
    failed = state.faults.take("createAsyncReport", ("failed",)) is not None
    report = state.reports.create_ads_report(
        region=ctx.region,
        profile_id=ctx.profile_id,
        name=name if isinstance(name, str) else None,
        start_date=start,
        end_date=end,
        configuration=config,
        outcome="FAILED" if failed else "COMPLETED",
        failure_reason=ADS_FAILURE_REASON if failed else None,
    )
    return json_response(200, await _async_report_json(ctx, report), ADS_CREATE_RESPONSE)


async def _async_report_json(ctx: Ctx, report: AdsReport, *, expired_url: bool = False) -> dict[str, Any]:
    state = ctx.state
    elapsed = state.clock.elapsed()
    status = report.status(elapsed)
    updated = report.created_at
    if status != "PENDING":
        updated = report.created_at + dt.timedelta(
            seconds=state.clock.to_real_seconds(report.pending_seconds)
        )
    body: dict[str, Any] = {
        "reportId": report.report_id,
        "name": report.name,
        "status": status,
        "configuration": report.configuration,
        "startDate": report.start_date.isoformat(),
        "endDate": report.end_date.isoformat(),
        "createdAt": iso_ms(report.created_at),
        "updatedAt": iso_ms(updated),
        "generatedAt": None,
        "url": None,
        "urlExpiresAt": None,
        "fileSize": None,
        "failureReason": None,
    }
    if status == "FAILED":
        body["updatedAt"] = iso_ms(report.finished_at(state.clock))
        body["failureReason"] = report.failure_reason or ADS_FAILURE_REASON
    elif status == "COMPLETED":
        generated = report.finished_at(state.clock)
        data = await ads_content(ctx, report)
        done_sim = report.created_sim + report.pending_seconds + report.processing_seconds
        if expired_url:
            token = state.reports.presign("ads", report.report_id, ADS_URL_TTL, expired=True)
            issued = state.clock.now()
        else:
            issued_sim = report.url_issued_sim if report.url_token else None
            if issued_sim is None or elapsed - issued_sim > ADS_URL_TTL:
                # the first URL dates from generation; a fresh one is signed once it has expired
                fresh = report.url_token is None and elapsed - done_sim <= ADS_URL_TTL
                issued_sim = done_sim if fresh else elapsed
                report.url_token = state.reports.presign(
                    "ads", report.report_id, ADS_URL_TTL, issued_sim=issued_sim
                )
                report.url_issued_sim = issued_sim
            token = report.url_token
            # one clock reading for both: two at_elapsed() calls differ by microseconds, which can cross a
            # millisecond and make urlExpiresAt - generatedAt 3600.001 s
            issued = generated if issued_sim == done_sim else state.clock.at_elapsed(issued_sim)
        body.update(
            updatedAt=iso_ms(generated),
            generatedAt=iso_ms(generated),
            url=presigned_url(ctx, "ads", report.report_id, token, int(ADS_URL_TTL)),
            urlExpiresAt=iso_ms(issued + dt.timedelta(seconds=ADS_URL_TTL)),
            fileSize=len(data),
        )
    return body


def _ads_report_or_404(ctx: Ctx) -> AdsReport:
    report_id = ctx.request.path_params["reportId"]
    report = ctx.state.reports.get_ads_report(ctx.region, report_id)
    if report is None or report.profile_id != ctx.profile_id:
        raise ApiError(404, "404", f"Report {report_id} not found")
    return report


async def get_async_report(ctx: Ctx) -> Response:
    report = _ads_report_or_404(ctx)
    state = ctx.state
    if report.status(state.clock.elapsed()) in ("PENDING", "PROCESSING"):
        if state.faults.take("getAsyncReport", ("failed",)) is not None:
            report.outcome, report.failure_reason = "FAILED", ADS_FAILURE_REASON
    expired = False
    if report.status(state.clock.elapsed()) == "COMPLETED":
        expired = state.faults.take("getAsyncReport", ("expired_url",)) is not None
    return json_response(200, await _async_report_json(ctx, report, expired_url=expired), ADS_GET_RESPONSE)


async def delete_async_report(ctx: Ctx) -> Response:
    report = _ads_report_or_404(ctx)
    status = report.status(ctx.state.clock.elapsed())
    if status != "PENDING":
        raise _ads_400(f"Report {report.report_id} is {status}: only PENDING reports can be cancelled")
    report.deleted = True
    body = {"code": "200", "detail": f"Report {report.report_id} was cancelled", "reportId": report.report_id}
    return json_response(200, body, ADS_DELETE_RESPONSE)
