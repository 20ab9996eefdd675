{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['date', 'marketplace'],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_build_window() }}",
        indexes=[
            {'columns': ['date', 'marketplace']},
            {'columns': ['advertised_asin']},
        ],
    )
}}

with

ads as (

    select * from {{ ref('stg_amazon__ads_sp_advertised_product') }}
    where {{ in_build_window(changed_sources=[ref('stg_amazon__ads_sp_advertised_product')]) }}
        and advertised_asin is not null

),

profiles as (

    select profile_id, currency_code from {{ ref('stg_amazon__ads_profiles') }}

),

marketplaces as (

    select code as marketplace, currency from {{ ref('dim_marketplace') }}

),

asin_days as (

    select
        ads.date_day,
        ads.marketplace,
        ads.advertised_asin,
        min(ads.profile_id) as profile_id,
        string_agg(distinct ads.advertised_sku, ',' order by ads.advertised_sku) as advertised_skus,
        count(distinct ads.campaign_id)::bigint as campaigns,
        count(*)::bigint as ad_rows,
        {{ ads_additive_measures() }},
        coalesce(sum(ads.sales_same_sku_7d), 0)::numeric as sales_same_sku_7d,
        coalesce(sum(ads.sales_same_sku_14d), 0)::numeric as sales_same_sku_14d,
        max(ads.loaded_at) as source_loaded_at

    from ads
    group by 1, 2, 3

),

with_currency as (

    select
        asin_days.*,
        coalesce(profiles.currency_code, marketplaces.currency) as currency_code

    from asin_days
    left join profiles using (profile_id)
    left join marketplaces using (marketplace)

),

final as (

    select
        date_day as date,
        marketplace,
        currency_code,
        advertised_asin,
        advertised_skus,
        campaigns,
        ad_rows,
        impressions,
        clicks,
        spend,
        sales_7d,
        sales_14d,
        sales_same_sku_7d,
        sales_same_sku_14d,
        purchases_7d,
        purchases_14d,
        units_sold_clicks_7d,
        units_sold_clicks_14d,
        {{ ads_ratios() }},
        source_loaded_at

    from with_currency

)

select * from final
