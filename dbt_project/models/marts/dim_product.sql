{{
    config(
        materialized='table',
        indexes=[{'columns': ['marketplace', 'asin'], 'unique': True}],
    )
}}

with

sales_traffic as (

    select
        marketplace,
        asin,
        parent_asin,
        sku,
        null::text as title,
        date_day,
        loaded_at,
        'sales_traffic' as seen_in
    from {{ ref('stg_amazon__sp_sales_traffic_by_asin') }}

),

order_items as (

    select
        marketplace,
        asin,
        null::text as parent_asin,
        sku,
        product_name as title,
        date_day,
        loaded_at,
        'orders' as seen_in
    from {{ ref('stg_amazon__sp_order_items') }}
    where asin is not null

),

ads as (

    select
        marketplace,
        advertised_asin as asin,
        null::text as parent_asin,
        advertised_sku as sku,
        null::text as title,
        date_day,
        loaded_at,
        'ads' as seen_in
    from {{ ref('stg_amazon__ads_sp_advertised_product') }}
    where advertised_asin is not null

),

sightings as (

    select * from sales_traffic
    union all
    select * from order_items
    union all
    select * from ads

),

products as (

    -- latest non-empty value wins (by day, then load time); a child ASIN reported only as a parent row is
    -- its own parent
    select
        marketplace,
        asin,
        (array_agg(parent_asin order by date_day desc, loaded_at desc) filter (where parent_asin is not null))[1]
            as parent_asin,
        (array_agg(sku order by date_day desc, loaded_at desc) filter (where sku is not null))[1] as sku,
        (array_agg(title order by date_day desc, loaded_at desc) filter (where title is not null))[1] as title,
        min(date_day) as first_seen_date,
        max(date_day) as last_seen_date,
        bool_or(seen_in = 'sales_traffic') as seen_in_sales_traffic,
        bool_or(seen_in = 'orders') as seen_in_orders,
        bool_or(seen_in = 'ads') as seen_in_ads

    from sightings
    group by 1, 2

),

final as (

    select
        marketplace,
        asin,
        parent_asin,
        sku,
        title,
        first_seen_date,
        last_seen_date,
        seen_in_sales_traffic,
        seen_in_orders,
        seen_in_ads

    from products

)

select * from final
