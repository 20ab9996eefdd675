{#- The additive Sponsored Products measures, summed over the rows of a group (ads_sp_advertised_product). -#}
{% macro ads_additive_measures() -%}
        coalesce(sum(impressions), 0)::bigint as impressions,
        coalesce(sum(clicks), 0)::bigint as clicks,
        coalesce(sum(spend), 0)::numeric as spend,
        coalesce(sum(sales_7d), 0)::numeric as sales_7d,
        coalesce(sum(sales_14d), 0)::numeric as sales_14d,
        coalesce(sum(purchases_7d), 0)::bigint as purchases_7d,
        coalesce(sum(purchases_14d), 0)::bigint as purchases_14d,
        coalesce(sum(units_sold_clicks_7d), 0)::bigint as units_sold_clicks_7d,
        coalesce(sum(units_sold_clicks_14d), 0)::bigint as units_sold_clicks_14d
{%- endmacro %}


{#- The ads ratios, derived from the additive columns of the same row (see safe_divide). -#}
{% macro ads_ratios() -%}
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        {{ safe_divide('spend', 'clicks') }} as cpc,
        {{ safe_divide('purchases_7d', 'clicks') }} as cvr,
        {{ safe_divide('spend', 'sales_7d') }} as acos,
        {{ safe_divide('sales_7d', 'spend') }} as roas,
        {{ safe_divide('spend', 'sales_14d') }} as acos_14d,
        {{ safe_divide('sales_14d', 'spend') }} as roas_14d
{%- endmacro %}


{#- The rows of `relation` (a CTE with profile_id and marketplace) plus currency_code: Ads reports are in the
    profile's currency, which is the marketplace's; the marketplace's (dim_marketplace) for a profile not loaded. -#}
{% macro ads_with_currency_code(relation) -%}
    select
        {{ relation }}.*,
        coalesce(profiles.currency_code, marketplaces.currency) as currency_code

    from {{ relation }}
    left join {{ ref('stg_amazon__ads_profiles') }} as profiles
        on {{ relation }}.profile_id = profiles.profile_id
    left join {{ ref('dim_marketplace') }} as marketplaces
        on {{ relation }}.marketplace = marketplaces.code
{%- endmacro %}
