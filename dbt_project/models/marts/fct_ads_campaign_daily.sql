{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['date', 'marketplace'],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_build_window() }}",
        indexes=[
            {'columns': ['date', 'marketplace']},
            {'columns': ['campaign_id']},
        ],
    )
}}

with

ads as (

    select * from {{ ref('stg_amazon__ads_sp_advertised_product') }}
    where {{ in_build_window(changed_sources=[ref('stg_amazon__ads_sp_advertised_product')]) }}

),

campaign_days as (

    select
        ads.date_day,
        ads.marketplace,
        ads.campaign_id,
        -- a campaign renamed during the day: the name from the latest-loaded ad row, then the greatest
        (array_agg(ads.campaign_name order by ads.loaded_at desc, ads.campaign_name desc))[1] as campaign_name,
        min(ads.profile_id) as profile_id,
        max(ads.campaign_status) as campaign_status,
        count(*)::bigint as ad_rows,
        {{ ads_additive_measures() }},
        max(ads.loaded_at) as source_loaded_at

    from ads
    group by 1, 2, 3

),

with_currency as (

    {{ ads_with_currency_code('campaign_days') }}

),

final as (

    select
        date_day as date,
        marketplace,
        currency_code,
        profile_id,
        campaign_id,
        campaign_name,
        campaign_status,
        ad_rows,
        impressions,
        clicks,
        spend,
        sales_7d,
        sales_14d,
        purchases_7d,
        purchases_14d,
        units_sold_clicks_7d,
        units_sold_clicks_14d,
        {{ ads_ratios() }},
        source_loaded_at

    from with_currency

)

select * from final
