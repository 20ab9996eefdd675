-- 002: chalkola_ops schema: operational state shared by every run of the pipeline (not Amazon data).
-- chalkola_ops.schema_migrations itself is created by warehouse/migrations.py before any migration runs.

create schema if not exists chalkola_ops;

-- Token buckets shared by every process and machine that calls Amazon for the same seller
-- (warehouse/rate_limiter.py). One row per (namespace, bucket); tokens may go negative: each negative
-- token is a caller already waiting for its future slot. Times come from the database clock only.
create table if not exists chalkola_ops.rate_limit_buckets (
    namespace text not null,                 -- seller / deployment, e.g. "default"
    bucket text not null,                    -- "{api}:{region}:{operation}", e.g. "sp:eu:createReport"
    tokens double precision not null,
    rate double precision not null,          -- default rate (requests/s) from the official usage plan
    burst double precision not null,
    observed_rate double precision,          -- from x-amzn-RateLimit-Limit; takes precedence over rate
    updated_at timestamptz not null,
    primary key (namespace, bucket),
    constraint rate_limit_buckets_rate_positive check (rate > 0 and burst >= 1
        and (observed_rate is null or observed_rate > 0))
);

