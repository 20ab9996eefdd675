{#- Ephemeral (dbt_project.yml): compiled into fct_ads_asin_daily and fct_asin_daily, which filter it with their
    own incremental window (in_build_window on date_day × marketplace, both grouping columns of this model). -#}

with

ads as (

    select * from {{ ref('stg_amazon__ads_sp_advertised_product') }}
    where advertised_asin is not null

),

asin_days as (

    select
        date_day,
        marketplace,
        advertised_asin,
        min(profile_id) as profile_id,
        string_agg(distinct advertised_sku, ',' order by advertised_sku) as advertised_skus,
        count(distinct campaign_id)::bigint as campaigns,
        count(*)::bigint as ad_rows,
        {{ ads_additive_measures() }},
        coalesce(sum(sales_same_sku_7d), 0)::numeric as sales_same_sku_7d,
        coalesce(sum(sales_same_sku_14d), 0)::numeric as sales_same_sku_14d,
        max(loaded_at) as source_loaded_at

    from ads
    group by 1, 2, 3

),

final as (

    select * from asin_days

)

select * from final
