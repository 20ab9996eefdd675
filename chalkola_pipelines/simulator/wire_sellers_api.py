"""Sellers API v1 JSON: ``MarketplaceParticipation`` objects."""

from __future__ import annotations

from chalkola_pipelines.simulator.seller_core import SellerCore


class SellersApi(SellerCore):
    """The Sellers API view of the seller."""

    def marketplace_participations(self) -> list[dict]:
        """Sellers API ``MarketplaceParticipation`` objects, one per configured marketplace."""
        out = []
        for m in self.marketplaces:
            eco = self._listings[m.code].eco
            out.append(
                {
                    "marketplace": {
                        "id": m.marketplace_id,
                        "countryCode": m.country_code,
                        "name": m.sales_channel,
                        "defaultCurrencyCode": m.currency,
                        "defaultLanguageCode": eco.language,
                        "domainName": eco.domain,
                    },
                    "participation": {"isParticipating": True, "hasSuspendedListings": False},
                    "storeName": self.store_name,
                }
            )
        return out
