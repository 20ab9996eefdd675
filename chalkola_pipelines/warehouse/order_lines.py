"""The order-item placement rule: which line an order item has, and which local day it belongs to.

- ``line_number``: the 1-based position of the item within its ``amazon-order-id``, in report order,
  counted over the whole document (rows of every day, kept or not);
- local day (``order_date``): the marketplace-local calendar day of ``purchase-date``
  (``Marketplace.local_date_of``).

:class:`OrderItemPlacement` is the one implementation, fed the document's rows in order: one at a time
(:meth:`~OrderItemPlacement.place`, the row-by-row load and the benchmark) or a block at a time
(:meth:`~OrderItemPlacement.place_block`, numpy, the Arrow load); the count of lines carries over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

EPOCH_DAY = date(1970, 1, 1)
_BUCKET_US = 15 * 60 * 1_000_000  # UTC offsets and their changes are whole quarter hours


class OrderItemPlacement:
    """Places the items of one order report, in report order (see the module docstring)."""

    def __init__(self, local_date_of: Callable[[datetime], date]) -> None:
        self._local_date_of = local_date_of
        self._lines: dict[str, int] = {}  # amazon-order-id → items seen so far
        self._last_purchase: datetime | None = None
        self._last_day = date.min
        self._day_of_bucket: dict[int, int] = {}  # UTC quarter hour → local day number (days since 1970)

    def place(self, order_id: str, purchase_date: datetime) -> tuple[date, int]:
        """(local day, line number) of the next item: ``purchase_date`` is timezone-aware."""
        line = self._lines.get(order_id, 0) + 1
        self._lines[order_id] = line
        if purchase_date != self._last_purchase:  # the items of an order follow each other
            self._last_purchase, self._last_day = purchase_date, self._local_date_of(purchase_date)
        return self._last_day, line

    def place_block(self, order_ids: pa.Array, purchase_micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(local day numbers since 1970-01-01 as int32, line numbers as int32) of the next items.

        ``order_ids``: a string array; ``purchase_micros``: µs since the epoch, UTC. The local day is that
        of the item's UTC quarter hour (constant within one: UTC offsets, their changes and local midnights
        are whole quarter hours), asked of ``local_date_of`` once per quarter hour. Raises OverflowError,
        ValueError or OSError for an instant ``datetime`` cannot hold.
        """
        import numpy as np
        import pyarrow.compute as pc

        n = len(order_ids)
        buckets, inverse = np.unique(purchase_micros // _BUCKET_US, return_inverse=True)
        bucket_days = np.empty(len(buckets), dtype=np.int32)
        for i, bucket in enumerate(buckets.tolist()):
            day = self._day_of_bucket.get(bucket)
            if day is None:
                instant = datetime.fromtimestamp(bucket * (_BUCKET_US // 1_000_000), UTC)
                day = self._day_of_bucket[bucket] = (self._local_date_of(instant) - EPOCH_DAY).days
            bucket_days[i] = day
        day_numbers = bucket_days[inverse.reshape(-1)]

        # 1-based rank of the row within its order in this block, plus the order's items of earlier blocks
        encoded = pc.dictionary_encode(order_ids)
        codes = encoded.indices.to_numpy()
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.empty(n, dtype=bool)
        starts[0] = True
        np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=starts[1:])
        positions = np.arange(n)
        group_start = np.maximum.accumulate(np.where(starts, positions, 0))
        ranks = np.empty(n, dtype=np.int64)
        ranks[order] = positions - group_start + 1
        ids: list[Any] = encoded.dictionary.to_pylist()
        in_block = np.bincount(codes, minlength=len(ids)).tolist()
        lines = self._lines
        before = [lines.get(order_id, 0) for order_id in ids]
        lines.update(zip(ids, [b + c for b, c in zip(before, in_block, strict=True)], strict=True))
        line_numbers = (ranks + np.array(before, dtype=np.int64)[codes]).astype(np.int32)
        return day_numbers, line_numbers
