"""Exceptions raised by the Amazon clients and parsers.

Every message names what failed (operation, report id, window, file) and what to do; none carries a secret.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path


class AmazonError(Exception):
    """Base class of every error raised by ``chalkola_pipelines.amazon``."""


class AmazonApiError(AmazonError):
    """An Amazon API call failed for good (non-retryable status, or retries exhausted)."""

    def __init__(
        self,
        operation: str,
        status_code: int | None,
        code: str | None,
        message: str,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        status = f"HTTP {status_code}" if status_code is not None else "no response"
        parts = [f"{operation} failed ({status}"]
        if code:
            parts.append(f", {code}")
        parts.append(f"): {message}")
        if request_id:
            parts.append(f" [x-amzn-RequestId {request_id}]")
        super().__init__("".join(parts))


class AmazonAuthError(AmazonError):
    """Login With Amazon refused a credential set (invalid_grant, invalid_client, ...) or could not be asked.

    ``code`` is LWA's error code when it refused (None when it was unreachable or a variable is missing);
    ``variables`` names the environment variables to fix (names only, never values)."""

    def __init__(self, message: str, *, code: str | None = None, variables: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.variables = variables


class ReportFatalError(AmazonError):
    """An SP-API report ended FATAL; ``amazon_message`` is the content of its error document."""

    def __init__(self, report_id: str, report_type: str, window: str, amazon_message: str) -> None:
        self.report_id = report_id
        self.report_type = report_type
        self.window = window
        self.amazon_message = amazon_message
        super().__init__(
            f"SP-API report {report_id} ({report_type}, {window}) ended FATAL: {amazon_message}. "
            "Amazon could not produce this report; check the marketplace/window, then re-run the partition "
            "(a new report will be requested)."
        )


class ReportTimeoutError(AmazonError):
    """A report did not finish within the polling timeout."""


class DocumentCorruptError(AmazonError):
    """A downloaded report document cannot be decompressed/decoded."""

    def __init__(self, path: Path | str, reason: str = "") -> None:
        self.path = Path(path)
        self.reason = reason
        detail = f": {reason}" if reason else ""
        # what happens next (the document quarantined, downloaded again by report id) is the workflow's to say
        super().__init__(f"report document {self.path} cannot be read{detail}")


class DocumentExpiredError(AmazonError):
    """A presigned document URL kept answering 403 even after re-fetching it."""


class AdsReportFailedError(AmazonError):
    """An Ads API v3 report ended FAILED."""

    def __init__(self, report_id: str, reason: str) -> None:
        self.report_id = report_id
        self.reason = reason
        super().__init__(
            f"Ads report {report_id} FAILED: {reason}. Re-run the partition to request a new report."
        )


class AdsRetentionError(AmazonError):
    """The requested Ads date is older than the Ads API reporting retention window."""

    def __init__(self, start: date, earliest: date) -> None:
        self.start = start
        self.earliest = earliest
        super().__init__(
            f"Ads reporting data for {start.isoformat()} is no longer available: the Ads API keeps only "
            f"95 days (earliest date available today: {earliest.isoformat()}). "
            "This day is unavailable at the source, not a failure to retry."
        )


class OrderReportFormatError(AmazonError):
    """An order report (flat file) line cannot be parsed."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"order report line {line}: {reason}")


class SalesTrafficFormatError(AmazonError):
    """A sales and traffic report document does not match the expected schema."""


class AdsReportFormatError(AmazonError):
    """An Ads report document does not match the expected format."""


class MissingRequiredFieldError(AmazonError):
    """A row lacks a field its official schema requires (``amazon.report_columns`` lists them per family).

    ``field`` is the field (dotted path or header), ``row`` where it is missing (``line 12``, ``row 3``,
    ``salesAndTrafficByAsin[4]``), ``document`` the document's name (its file: the report id) if known. The
    family's subclass is raised, so a handler of that family's format error catches it too.
    """

    def __init__(self, message: str, *, field: str, row: str, document: str | None) -> None:
        self.field, self.row, self.document = field, row, document
        super().__init__(message)


class SalesTrafficMissingFieldError(MissingRequiredFieldError, SalesTrafficFormatError):
    """A sales and traffic row (report or Data Kiosk record) lacks a required field."""


class AdsMissingFieldError(MissingRequiredFieldError, AdsReportFormatError):
    """An Ads report row lacks a column the marts need (``ADS_REQUIRED_COLUMNS``)."""


class OrderReportMissingFieldError(MissingRequiredFieldError, OrderReportFormatError):
    """An order report lacks a key column, or a row a key value (``ORDER_REPORT_REQUIRED_*``)."""

    def __init__(self, line: int, reason: str, *, field: str, document: str | None) -> None:
        self.field, self.row, self.document = field, f"line {line}", document
        OrderReportFormatError.__init__(self, line, reason)


class DataKioskAccessDeniedError(AmazonApiError):
    """Data Kiosk answered 403 (or 401) after a fresh access token: the app lacks the Brand Analytics role."""

    def __init__(
        self, operation: str, status_code: int | None, code: str | None, request_id: str | None
    ) -> None:
        super().__init__(
            operation,
            status_code,
            code,
            "Data Kiosk access denied: the SP-API app lacks the Brand Analytics role. Add the role to the app "
            "(Solution Provider Portal > app > Edit App, or Seller Central > Apps and Services > Develop Apps), "
            "then re-authorise the app for this seller to get a new refresh token; until then the pipeline can "
            "fall back to GET_SALES_AND_TRAFFIC_REPORT reports (metered at 96/day per seller)",
            request_id,
        )


class DataKioskQueryFatalError(AmazonError):
    """A Data Kiosk query ended FATAL (or CANCELLED); ``amazon_message`` is its error document's text."""

    def __init__(self, query_id: str, what: str, status: str, amazon_message: str) -> None:
        self.query_id = query_id
        self.what = what
        self.status = status
        self.amazon_message = amazon_message
        super().__init__(
            f"Data Kiosk query {query_id} ({what}) ended {status}: {amazon_message}. Check the query's "
            "dates (start no more than two years ago) and marketplaces, then re-run the partition "
            "(a new query will be created)."
        )
