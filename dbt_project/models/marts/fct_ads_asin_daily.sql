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

asin_days as (

    select * from {{ ref('int_ads__asin_daily') }}
    where {{ in_build_window(changed_sources=[ref('stg_amazon__ads_sp_advertised_product')]) }}

),

with_currency as (

    {{ ads_with_currency_code('asin_days') }}

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
