"""Ads API JSON: v2 ``Profile`` objects and spAdvertisedProduct report rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np

from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS
from chalkola_pipelines.simulator.data_ads import AdsDay
from chalkola_pipelines.simulator.data_ads_rows import AdsColumns, add_ads_days
from chalkola_pipelines.simulator.seller_core import SellerCore
from chalkola_pipelines.simulator.wire_values import as_date

_ADS_COLUMN_NAMES = frozenset(c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS)


class AdsApi(SellerCore):
    """The Ads API view of the seller: profiles and Sponsored Products rows."""

    def ads_profiles(self, region: str) -> list[dict]:
        """Ads API v2 ``Profile`` objects of a region (na, eu, fe): one seller profile per marketplace."""
        region = region.strip().lower()
        out = []
        for m in self.marketplaces:
            if m.region != region:
                continue
            out.append(
                {
                    "profileId": self._profile_ids[m.code],
                    "countryCode": m.code if m.code == "UK" else m.country_code,
                    "currencyCode": m.currency,
                    "dailyBudget": 999999999.0,
                    "timezone": m.timezone,
                    "accountInfo": {
                        "marketplaceStringId": m.marketplace_id,
                        "id": self.seller_id,
                        "type": "seller",
                        "name": self.store_name,
                        "validPaymentMethod": True,
                    },
                }
            )
        return out

    def profile_region(self, profile_id: int) -> str | None:
        """The region (na, eu, fe) of one of this seller's profiles, or None."""
        code = self._profile_codes.get(int(profile_id))
        return self._by_code[code].region if code else None

    def sp_advertised_product_rows(
        self,
        profile_id: int,
        start: dt.date,
        end: dt.date,
        columns: Sequence[str],
        *,
        time_unit: str = "DAILY",
    ) -> Iterator[dict]:
        """spAdvertisedProduct rows (groupBy advertiser) for local days start..end, streamed.

        DAILY: one dict per ad per day with impressions; SUMMARY: one per ad over the range (startDate/endDate).
        Keys are exactly ``columns``; ids are ``int`` (some above 2**53), money and ratios ``Decimal``
        (write them as JSON numbers without going through float), undefined ratios ``None``.
        """
        code = self._profile_codes.get(int(profile_id))
        if code is None:
            raise ValueError(f"Unknown Ads profile id {profile_id}: not one of this seller's profiles.")
        unknown = [c for c in columns if c not in _ADS_COLUMN_NAMES]
        if unknown:
            raise ValueError(f"Unknown spAdvertisedProduct columns: {', '.join(unknown)}")
        start = as_date(start, "startDate")
        end = as_date(end, "endDate")
        time_unit = time_unit.upper()
        if time_unit not in ("DAILY", "SUMMARY"):
            raise ValueError(f"timeUnit must be DAILY or SUMMARY, got {time_unit!r}")
        if end < start:
            raise ValueError(f"endDate {end} is before startDate {start}")
        return self._ads_rows(code, start, end, list(columns), time_unit)

    def _ads_rows(
        self, code: str, start: dt.date, end: dt.date, columns: list[str], time_unit: str
    ) -> Iterator[dict]:
        account = self._account(code)
        listing = self._listings[code]
        now_ts = self._now_ts()
        if time_unit == "DAILY":
            day = start
            while day <= end:
                ad = self._ads_day(code, day, now_ts)
                rows = np.flatnonzero(ad.impressions > 0)
                if rows.shape[0]:
                    values = AdsColumns(account, listing, ad, rows, day.isoformat(), None, None)
                    lists = [values.column(c) for c in columns]
                    for vals in zip(*lists, strict=True):
                        yield dict(zip(columns, vals, strict=True))
                day += dt.timedelta(days=1)
            return
        total: AdsDay | None = None
        day = start
        while day <= end:
            total = add_ads_days(total, self._ads_day(code, day, now_ts))
            day += dt.timedelta(days=1)
        assert total is not None
        rows = np.flatnonzero(total.impressions > 0)
        if rows.shape[0]:
            values = AdsColumns(account, listing, total, rows, None, start.isoformat(), end.isoformat())
            lists = [values.column(c) for c in columns]
            for vals in zip(*lists, strict=True):
                yield dict(zip(columns, vals, strict=True))
