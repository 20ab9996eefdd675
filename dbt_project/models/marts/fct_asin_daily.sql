{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['date', 'marketplace'],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_build_window() }}",
        indexes=[
            {'columns': ['date', 'marketplace']},
            {'columns': ['asin']},
        ],
    )
}}

{%- set changed_sources = [
    ref('stg_amazon__sp_sales_traffic_by_asin'),
    ref('stg_amazon__sp_sales_traffic_by_date'),
    ref('stg_amazon__ads_sp_advertised_product'),
] %}

with

sales_traffic_rows as (

    select * from {{ ref('stg_amazon__sp_sales_traffic_by_asin') }}
    where {{ in_build_window(changed_sources=changed_sources) }}

),

sales_traffic_days as (

    -- one row per loaded S&T report (marketplace × day), even a day without any ASIN row
    select date_day, marketplace, currency_code, loaded_at
    from {{ ref('stg_amazon__sp_sales_traffic_by_date') }}
    where {{ in_build_window(changed_sources=changed_sources) }}

),

marketplaces as (

    select code as marketplace, currency from {{ ref('dim_marketplace') }}

),

sales_traffic as (

    -- one row per child ASIN; several rows only when the report was requested per SKU, in which case
    -- Amazon's percentages are re-derived (buy box weighted by page views, unit session = units / sessions)
    select
        date_day,
        marketplace,
        asin,
        max(parent_asin) as parent_asin,
        max(currency_code) as currency_code,
        coalesce(sum(ordered_product_sales), 0)::numeric(18, 2) as ordered_product_sales,
        coalesce(sum(units_ordered), 0)::bigint as units_ordered,
        coalesce(sum(total_order_items), 0)::bigint as total_order_items,
        coalesce(sum(sessions), 0)::bigint as sessions,
        coalesce(sum(page_views), 0)::bigint as page_views,
        case
            when count(*) = 1 then max(buy_box_percentage)
            else {{ safe_divide('sum(buy_box_percentage * page_views)', 'sum(page_views)', 2) }}
        end as buy_box_percentage,
        case
            when count(*) = 1 then max(unit_session_percentage)
            else {{ safe_divide('100 * sum(units_ordered)', 'sum(sessions)', 2) }}
        end as unit_session_percentage,
        max(loaded_at) as loaded_at

    from sales_traffic_rows
    group by 1, 2, 3

),

ads as (

    select
        date_day,
        marketplace,
        advertised_asin as asin,
        impressions as ad_impressions,
        clicks as ad_clicks,
        spend as ad_spend,
        sales_7d as ad_sales_7d,
        sales_14d as ad_sales_14d,
        purchases_7d as ad_purchases_7d,
        units_sold_clicks_7d as ad_units_sold_clicks_7d,
        source_loaded_at as loaded_at

    from {{ ref('int_ads__asin_daily') }}
    where {{ in_build_window(changed_sources=changed_sources) }}

),

joined as (

    -- full outer join: an ASIN-day with ads but no S&T row is kept (ads are loaded ~1 day before S&T is
    -- complete, and an advertised ASIN can have impressions without a session)
    select
        coalesce(sales_traffic.date_day, ads.date_day) as date_day,
        coalesce(sales_traffic.marketplace, ads.marketplace) as marketplace,
        coalesce(sales_traffic.asin, ads.asin) as asin,
        sales_traffic.parent_asin,
        sales_traffic.currency_code as asin_currency_code,
        sales_traffic.asin is not null as has_sales_traffic_row,
        ads.asin is not null as has_ads,
        sales_traffic.ordered_product_sales,
        sales_traffic.units_ordered,
        sales_traffic.total_order_items,
        sales_traffic.sessions,
        sales_traffic.page_views,
        sales_traffic.buy_box_percentage,
        sales_traffic.unit_session_percentage,
        coalesce(ads.ad_impressions, 0)::bigint as ad_impressions,
        coalesce(ads.ad_clicks, 0)::bigint as ad_clicks,
        coalesce(ads.ad_spend, 0)::numeric as ad_spend,
        coalesce(ads.ad_sales_7d, 0)::numeric as ad_sales_7d,
        coalesce(ads.ad_sales_14d, 0)::numeric as ad_sales_14d,
        coalesce(ads.ad_purchases_7d, 0)::bigint as ad_purchases_7d,
        coalesce(ads.ad_units_sold_clicks_7d, 0)::bigint as ad_units_sold_clicks_7d,
        greatest(sales_traffic.loaded_at, ads.loaded_at) as loaded_at

    from sales_traffic
    full outer join ads
        on sales_traffic.date_day = ads.date_day
        and sales_traffic.marketplace = ads.marketplace
        and sales_traffic.asin = ads.asin

),

with_report as (

    select
        joined.*,
        sales_traffic_days.date_day is not null as sales_traffic_loaded,
        coalesce(joined.asin_currency_code, sales_traffic_days.currency_code, marketplaces.currency) as currency_code,
        greatest(joined.loaded_at, sales_traffic_days.loaded_at) as source_loaded_at

    from joined
    left join sales_traffic_days using (date_day, marketplace)
    left join marketplaces using (marketplace)

),

measures as (

    -- S&T measures: the ASIN's row; 0 when the day's report is loaded but does not list the ASIN
    -- (no traffic, no sales); NULL while the day's S&T report is not loaded (unknown, not zero)
    select
        date_day,
        marketplace,
        currency_code,
        asin,
        parent_asin,
        sales_traffic_loaded,
        has_sales_traffic_row,
        has_ads,
        case when has_sales_traffic_row then ordered_product_sales when sales_traffic_loaded then 0 end::numeric(18, 2)
            as ordered_sales,
        case when has_sales_traffic_row then units_ordered when sales_traffic_loaded then 0 end::bigint
            as units_ordered,
        case when has_sales_traffic_row then total_order_items when sales_traffic_loaded then 0 end::bigint
            as total_order_items,
        case when has_sales_traffic_row then sessions when sales_traffic_loaded then 0 end::bigint as sessions,
        case when has_sales_traffic_row then page_views when sales_traffic_loaded then 0 end::bigint as page_views,
        buy_box_percentage,
        unit_session_percentage,
        ad_impressions,
        ad_clicks,
        ad_spend,
        ad_sales_7d,
        ad_sales_14d,
        ad_purchases_7d,
        ad_units_sold_clicks_7d,
        source_loaded_at

    from with_report

),

final as (

    select
        date_day as date,
        marketplace,
        currency_code,
        asin,
        parent_asin,
        sales_traffic_loaded,
        has_sales_traffic_row,
        has_ads,
        ordered_sales,
        units_ordered,
        total_order_items,
        sessions,
        page_views,
        buy_box_percentage,
        unit_session_percentage,
        ad_impressions,
        ad_clicks,
        ad_spend,
        ad_sales_7d,
        ad_sales_14d,
        ad_purchases_7d,
        ad_units_sold_clicks_7d,
        -- plain arithmetic, not clamped: 7-day attribution credits sales to the click's day and includes other
        -- SKUs bought after the click, so it can exceed the day's ordered sales (negative organic)
        (ordered_sales - ad_sales_7d)::numeric as organic_sales,
        {{ safe_divide('ad_spend', 'ordered_sales') }} as tacos,
        source_loaded_at

    from measures

)

select * from final
