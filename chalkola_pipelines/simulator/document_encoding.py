"""Document bodies as Amazon serves them: exact JSON numbers, gzip, TSV; and the corruptions of faults."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

#: Key added by the ``extra_field`` fault (schema drift: Amazon adds a field the pipeline does not know).
EXTRA_FIELD_NAME = "simulatorSchemaDriftField"
EXTRA_COLUMN_NAME = "simulator-schema-drift-column"


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, int):
        out.append(str(int(obj)))  # ids above 2**53 stay exact integers
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot write {obj!r} as a JSON number")
        out.append(format(obj, "f"))
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"cannot write {obj!r} as a JSON number")
        out.append(repr(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    elif isinstance(obj, dt.datetime | dt.date):
        out.append(json.dumps(obj.isoformat()))
    else:
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def dumps_json(obj: Any) -> bytes:
    """UTF-8 JSON where Decimals are written as exact numbers and ints never pass through float."""
    out: list[str] = []
    _encode(obj, out)
    return "".join(out).encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def tsv_bytes(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A tab-delimited flat file: header line, then one line per row (missing keys → empty)."""
    lines = ["\t".join(header)]
    for row in rows:
        lines.append("\t".join(_tsv_cell(row.get(h)) for h in header))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def add_extra_field_sales_traffic(document: dict) -> dict:
    """Schema drift: a field the official schema does not define, at top level and in every salesByDate."""
    document = dict(document)
    document[EXTRA_FIELD_NAME] = "added by the simulator"
    by_date = []
    for entry in document.get("salesAndTrafficByDate") or []:
        entry = dict(entry)
        sales = dict(entry.get("salesByDate") or {})
        sales[EXTRA_FIELD_NAME] = 1
        entry["salesByDate"] = sales
        by_date.append(entry)
    if "salesAndTrafficByDate" in document:
        document["salesAndTrafficByDate"] = by_date
    return document


def add_extra_field_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Schema drift for Ads rows: an extra key on every row."""
    return [{**row, EXTRA_FIELD_NAME: 1} for row in rows]


#: What the ``missing_field`` fault drops by default (a field the official schema requires).
MISSING_FIELD_DEFAULTS = {
    "st": "unitsOrdered",
    "orders": "quantity",
    "ads": "impressions",
    "dk": "sales.unitsOrdered",
}


def _drop(row: dict, path: str) -> dict:
    """``row`` without the dotted ``path`` (copied along the way)."""
    head, _, rest = path.partition(".")
    row = dict(row)
    if rest and isinstance(row.get(head), dict):
        row[head] = _drop(row[head], rest)
    else:
        row.pop(head, None)
    return row


def drop_field_sales_traffic(document: dict, field: str = "") -> dict:
    """The S&T report without ``field`` on the last row of its array: a dotted path in the row (its section
    names the array: ``salesByDate.unitsOrdered``, ``trafficByAsin.sessions``, ``date``, ``parentAsin``), or
    a bare metric name in the sales section (default ``unitsOrdered``; by ASIN, by date if no ASIN rows)."""
    document = dict(document)
    name = field or MISSING_FIELD_DEFAULTS["st"]
    head = name.split(".")[0]
    by_date = head in ("date", "salesByDate", "trafficByDate")
    if not by_date and "." not in name and head not in ("parentAsin", "childAsin", "sku"):
        by_date = not document.get("salesAndTrafficByAsin")
        name = f"{'salesByDate' if by_date else 'salesByAsin'}.{name}"
    key = "salesAndTrafficByDate" if by_date else "salesAndTrafficByAsin"
    rows = list(document.get(key) or [])
    if rows:
        rows[-1] = _drop(rows[-1], name)
        document[key] = rows
    return document


def drop_field_rows(rows: list[dict[str, Any]], field: str = "") -> list[dict[str, Any]]:
    """Ads rows with ``field`` (default ``impressions``) absent from the last row."""
    if rows:
        rows = [*rows[:-1], _drop(rows[-1], field or MISSING_FIELD_DEFAULTS["ads"])]
    return rows


def blank_tsv_field(rows: list[dict[str, str]], field: str = "") -> list[dict[str, str]]:
    """Order-report rows with ``field`` (default ``quantity``) blank on the last row."""
    if rows:
        rows = [*rows[:-1], {**rows[-1], (field or MISSING_FIELD_DEFAULTS["orders"]): ""}]
    return rows


def drop_field_jsonl(data: bytes, field: str = "") -> bytes:
    """A Data Kiosk JSONL document without ``field`` (default ``sales.unitsOrdered``) on its last record."""
    lines = data.splitlines(keepends=True)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            record = json.loads(lines[i], parse_float=Decimal)
            lines[i] = dumps_json(_drop(record, field or MISSING_FIELD_DEFAULTS["dk"])) + b"\n"
            break
    return b"".join(lines)


def truncate_body(data: bytes) -> bytes:
    """Cut an (uncompressed) body at 60 %: JSON that ends mid-value, a TSV with a partial last line."""
    if len(data) <= 2:
        return data[:1]
    return data[: max(1, int(len(data) * 0.6))]


def corrupt_gzip(data: bytes) -> bytes:
    """Keep the gzip header, scramble the deflate stream: any gzip reader fails (bad data or CRC)."""
    if len(data) <= 18:
        return data[:10] + b"\xff\xff\xff\xff"
    body = bytes(b ^ 0x5A for b in data[10:-8])
    return data[:10] + body + data[-8:]
