-- 003: a report id is unique only per seller account (Amazon: "unique only in combination with a seller ID"),
-- and each region has its own: the same id can come back from NA and FE. Key the ledger by region too.
drop index if exists raw_amazon.report_requests_source_report_id_uidx;
create unique index if not exists report_requests_source_region_report_id_uidx
    on raw_amazon.report_requests (source, region, report_id)
    where report_id is not null;
