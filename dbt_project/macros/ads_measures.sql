{#- The additive Sponsored Products measures, summed over the rows of a group (ads_sp_advertised_product). -#}
{% macro ads_additive_measures(prefix='') -%}
        coalesce(sum(impressions), 0)::bigint as {{ prefix }}impressions,
        coalesce(sum(clicks), 0)::bigint as {{ prefix }}clicks,
        coalesce(sum(spend), 0)::numeric as {{ prefix }}spend,
        coalesce(sum(sales_7d), 0)::numeric as {{ prefix }}sales_7d,
        coalesce(sum(sales_14d), 0)::numeric as {{ prefix }}sales_14d,
        coalesce(sum(purchases_7d), 0)::bigint as {{ prefix }}purchases_7d,
        coalesce(sum(purchases_14d), 0)::bigint as {{ prefix }}purchases_14d,
        coalesce(sum(units_sold_clicks_7d), 0)::bigint as {{ prefix }}units_sold_clicks_7d,
        coalesce(sum(units_sold_clicks_14d), 0)::bigint as {{ prefix }}units_sold_clicks_14d
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
