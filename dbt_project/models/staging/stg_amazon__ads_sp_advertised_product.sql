with

source as (

    select * from {{ source('amazon', 'ads_sp_advertised_product') }}

),

renamed as (

    select
        -- keys
        marketplace::text as marketplace,
        profile_id::bigint as profile_id,
        report_date::date as date_day,
        ad_id::bigint as ad_id,
        campaign_id::bigint as campaign_id,
        campaign_name::text as campaign_name,
        ad_group_id::bigint as ad_group_id,
        ad_group_name::text as ad_group_name,
        portfolio_id::bigint as portfolio_id,
        campaign_status::text as campaign_status,
        campaign_budget_currency_code::text as campaign_budget_currency_code,
        campaign_budget_amount::numeric as campaign_budget_amount,
        campaign_budget_type::text as campaign_budget_type,
        nullif(trim(advertised_asin), '')::text as advertised_asin,
        nullif(trim(advertised_sku), '')::text as advertised_sku,

        -- delivery; spend and cost are the same figure (Amazon docs), either may be the one requested
        impressions::bigint as impressions,
        clicks::bigint as clicks,
        coalesce(spend, cost)::numeric as spend,

        -- attribution (to the click's day)
        sales_1d::numeric as sales_1d,
        sales_7d::numeric as sales_7d,
        sales_14d::numeric as sales_14d,
        sales_30d::numeric as sales_30d,
        attributed_sales_same_sku_7d::numeric as sales_same_sku_7d,
        attributed_sales_same_sku_14d::numeric as sales_same_sku_14d,
        sales_other_sku_7d::numeric as sales_other_sku_7d,
        purchases_1d::bigint as purchases_1d,
        purchases_7d::bigint as purchases_7d,
        purchases_14d::bigint as purchases_14d,
        purchases_30d::bigint as purchases_30d,
        purchases_same_sku_7d::bigint as purchases_same_sku_7d,
        purchases_same_sku_14d::bigint as purchases_same_sku_14d,
        units_sold_clicks_1d::bigint as units_sold_clicks_1d,
        units_sold_clicks_7d::bigint as units_sold_clicks_7d,
        units_sold_clicks_14d::bigint as units_sold_clicks_14d,
        units_sold_clicks_30d::bigint as units_sold_clicks_30d,
        units_sold_same_sku_7d::bigint as units_sold_same_sku_7d,
        units_sold_same_sku_14d::bigint as units_sold_same_sku_14d,

        -- lineage
        report_id::text as report_id,
        loaded_at::timestamptz as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
