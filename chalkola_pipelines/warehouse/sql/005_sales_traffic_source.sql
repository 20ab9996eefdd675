-- 005: sales & traffic rows say where they came from. Since 2026-04-24 Amazon meters the S&T report per seller
-- (4 an hour, 96 a day: amazon-facts §8.1), so Data Kiosk's salesAndTraffic queries are the primary source and
-- the single-day report the fallback. report_id holds the report id or the Data Kiosk query id; source says which.
alter table raw_amazon.sp_sales_traffic_by_date
    add column if not exists source text not null default 'report';
alter table raw_amazon.sp_sales_traffic_by_asin
    add column if not exists source text not null default 'report';
alter table raw_amazon.sp_sales_traffic_by_date drop constraint if exists sp_sales_traffic_by_date_source_check;
alter table raw_amazon.sp_sales_traffic_by_date
    add constraint sp_sales_traffic_by_date_source_check check (source in ('report', 'data_kiosk'));
alter table raw_amazon.sp_sales_traffic_by_asin drop constraint if exists sp_sales_traffic_by_asin_source_check;
alter table raw_amazon.sp_sales_traffic_by_asin
    add constraint sp_sales_traffic_by_asin_source_check check (source in ('report', 'data_kiosk'));

-- What an API refused to this deployment (e.g. Data Kiosk without the Brand Analytics role), so the pipeline
-- says it once and does not ask again every run; cleared when access works again or by `chalkola ...`.
create table if not exists chalkola_ops.api_access_denied (
    api text not null,                       -- "data_kiosk"
    region text not null,                    -- na | eu | fe
    message text not null,                   -- Amazon's answer, one line (no secrets: errors never carry them)
    denied_at timestamptz not null default now(),
    primary key (api, region)
);
