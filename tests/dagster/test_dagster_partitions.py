"""Partitions: marketplace × local date, keys, start date, decoding runs (no database, no network)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from chalkola_pipelines.defs.jobs import marketplace_run_request, run_tags_for, split_days
from chalkola_pipelines.defs.partitions import (
    PartitionConfigError,
    configured_marketplaces,
    daily_marketplace_partitions,
    default_start_date,
    history_start_date,
    marketplace_days_from_keys,
)
from chalkola_pipelines.marketplaces import DEFAULT_MARKETPLACE_CODES, get_marketplace


def test_default_marketplaces_and_unknown_code() -> None:
    assert [m.code for m in configured_marketplaces({})] == list(DEFAULT_MARKETPLACE_CODES)
    assert [m.code for m in configured_marketplaces({"CHALKOLA_MARKETPLACES": "jp, us,JP"})] == ["JP", "US"]
    with pytest.raises(
        PartitionConfigError, match=r"CHALKOLA_MARKETPLACES='US,XX'.*Unknown marketplace code 'XX'"
    ):
        configured_marketplaces({"CHALKOLA_MARKETPLACES": "US,XX"})


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (dt.date(2026, 11, 23), dt.date(2024, 11, 1)),
        (dt.date(2026, 11, 1), dt.date(2024, 11, 1)),
        (dt.date(2026, 11, 30), dt.date(2024, 11, 1)),
        (dt.date(2026, 1, 15), dt.date(2024, 1, 1)),
        (dt.date(2026, 12, 31), dt.date(2024, 12, 1)),
    ],
)
def test_default_start_is_stable_within_a_month(today: dt.date, start: dt.date) -> None:
    assert default_start_date(today) == start


def test_start_date_from_environment() -> None:
    assert history_start_date({"CHALKOLA_START_DATE": "2025-03-04"}) == dt.date(2025, 3, 4)
    with pytest.raises(PartitionConfigError, match="CHALKOLA_START_DATE='March' is not a date"):
        history_start_date({"CHALKOLA_START_DATE": "March"})


def test_keys_look_like_date_pipe_marketplace() -> None:
    mkts = configured_marketplaces({"CHALKOLA_MARKETPLACES": "US,JP"})
    parts = daily_marketplace_partitions(mkts, dt.date(2026, 11, 1))
    now = dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC)
    keys = parts.get_partition_keys(current_time=now)
    assert "2026-11-20|US" in keys and "2026-11-20|JP" in keys
    # end_offset=1: today's UTC date is a partition (JP's local yesterday can be today's UTC date)
    assert "2026-11-21|JP" in keys and "2026-11-22|JP" not in keys
    assert parts.get_partitions_def_for_dimension("marketplace").get_partition_keys() == ["US", "JP"]


def test_run_decoding_single_and_range() -> None:
    md = marketplace_days_from_keys(["2026-11-20|JP"])
    assert md.marketplace.code == "JP" and md.days == (dt.date(2026, 11, 20),)
    md = marketplace_days_from_keys(
        [dg.MultiPartitionKey({"date": "2026-11-21", "marketplace": "US"}), "2026-11-20|US"]
    )
    assert md.days == (dt.date(2026, 11, 20), dt.date(2026, 11, 21)) and md.describe() == (
        "partitions 2026-11-20|US..2026-11-21|US"
    )
    with pytest.raises(PartitionConfigError, match="one marketplace"):
        marketplace_days_from_keys(["2026-11-20|US", "2026-11-20|JP"])


def test_run_requests_carry_region_and_range_tags() -> None:
    req = marketplace_run_request("JP", dt.date(2026, 11, 1), dt.date(2026, 11, 7), job_name="raw_amazon_job")
    assert req.tags == {
        "dagster/asset_partition_range_start": "2026-11-01|JP",
        "dagster/asset_partition_range_end": "2026-11-07|JP",
        "amazon/region": "fe",
    }
    assert req.job_name == "raw_amazon_job" and req.partition_key is None
    single = marketplace_run_request(get_marketplace("UK"), dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    assert single.partition_key == "2026-11-01|UK" and single.tags["amazon/region"] == "eu"
    assert run_tags_for("US", dt.date(2026, 11, 1), dt.date(2026, 11, 1))[
        "dagster/asset_partition_range_end"
    ] == ("2026-11-01|US")
    with pytest.raises(ValueError, match="before first day"):
        marketplace_run_request("US", dt.date(2026, 11, 2), dt.date(2026, 11, 1))


def test_split_days() -> None:
    chunks = split_days(dt.date(2026, 1, 1), dt.date(2026, 3, 1), 30)
    assert chunks == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 30)),
        (dt.date(2026, 1, 31), dt.date(2026, 3, 1)),
    ]
    assert split_days(dt.date(2026, 1, 1), dt.date(2026, 1, 1), 31) == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    ]


def test_tagged_partitions_outside_the_partition_set_are_one_line() -> None:
    from chalkola_pipelines.defs.partitions import partition_tags_problem

    parts = daily_marketplace_partitions(get_marketplace_list("US,JP"), dt.date(2025, 1, 1))
    now = dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC)
    ok = {
        "dagster/asset_partition_range_start": "2025-01-01|US",
        "dagster/asset_partition_range_end": "2025-01-31|US",
    }
    assert partition_tags_problem(ok, parts, now) is None
    assert partition_tags_problem({"dagster/partition": "2026-11-21|JP"}, parts, now) is None
    assert partition_tags_problem({"amazon/region": "na"}, parts, now) is None  # no partition named
    early = {**ok, "dagster/asset_partition_range_start": "2024-12-31|US"}
    assert partition_tags_problem(early, parts, now) == (
        "the range 2024-12-31|US..2025-01-31|US starts on 2024-12-31, before the partitions' start 2025-01-01 "
        "(CHALKOLA_START_DATE, at most 24 months back: what Amazon keeps): start on 2025-01-01 or later."
    )
    late = partition_tags_problem({"dagster/partition": "2026-11-22|US"}, parts, now)
    assert late and "after the newest partition 2026-11-21" in late
    unknown = partition_tags_problem({"dagster/partition": "2026-11-20|DE"}, parts, now)
    assert unknown and "marketplace DE is not in CHALKOLA_MARKETPLACES (US,JP)" in unknown
    malformed = partition_tags_problem({"dagster/partition": "2026-11-20"}, parts, now)
    assert malformed and "YYYY-MM-DD|MARKETPLACE" in malformed


def test_only_dagster_job_execute_command_lines_are_checked() -> None:
    from chalkola_pipelines.defs.launch_guard import cli_tags

    tags = '{"dagster/partition": "2024-01-01|US"}'
    assert cli_tags(["/v/bin/dagster", "job", "execute", "-m", "x", "--tags", tags]) == {
        "dagster/partition": "2024-01-01|US"
    }
    assert cli_tags(["/v/bin/dagster", "job", "execute", f"--tags={tags}"]) == {
        "dagster/partition": "2024-01-01|US"
    }
    assert cli_tags(["/v/bin/dagster", "job", "execute", "-m", "x"]) is None
    assert cli_tags(["/v/bin/dagster", "api", "grpc", "--tags", tags]) is None  # a code server: left alone
    assert cli_tags(["/v/bin/dagster-webserver", "job", "execute", "--tags", tags]) is None
    assert cli_tags(["/v/bin/dagster", "job", "execute", "--tags", "{not json"]) is None


def get_marketplace_list(codes: str):
    return configured_marketplaces({"CHALKOLA_MARKETPLACES": codes})
