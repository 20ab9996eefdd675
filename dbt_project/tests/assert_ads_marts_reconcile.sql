{#-
  Spend and 7-day sales per marketplace-day agree across the staging rows and every mart that carries them:
  fct_ads_campaign_daily = all ad rows; fct_ads_asin_daily = fct_asin_daily's ad columns = rows with an ASIN.
  Returns the marketplace-days that disagree.
  With a min_date / max_date window (the days this run rebuilt) a difference is an ERROR. Without one the test
  covers all history and WARNs: a marketplace-day loaded long before the last build and outside the lookback
  was not rebuilt (stale, not wrong) — rebuild it with --vars '{min_date: ..., max_date: ...}' or --full-refresh.
-#}
{%- set min_date = chalkola_date_var('min_date') -%}
{%- set max_date = chalkola_date_var('max_date') -%}
{{ config(severity='error' if (min_date or max_date) else 'warn') }}

with

staged as (

    select
        date_day,
        marketplace,
        coalesce(sum(spend), 0) as spend,
        coalesce(sum(sales_7d), 0) as sales_7d,
        coalesce(sum(spend) filter (where advertised_asin is not null), 0) as asin_spend,
        coalesce(sum(sales_7d) filter (where advertised_asin is not null), 0) as asin_sales_7d
    from {{ ref('stg_amazon__ads_sp_advertised_product') }}
    group by 1, 2

),

campaigns as (

    select date as date_day, marketplace, sum(spend) as spend, sum(sales_7d) as sales_7d
    from {{ ref('fct_ads_campaign_daily') }}
    group by 1, 2

),

advertised_asins as (

    select date as date_day, marketplace, sum(spend) as spend, sum(sales_7d) as sales_7d
    from {{ ref('fct_ads_asin_daily') }}
    group by 1, 2

),

asins as (

    select date as date_day, marketplace, sum(ad_spend) as spend, sum(ad_sales_7d) as sales_7d
    from {{ ref('fct_asin_daily') }}
    group by 1, 2

),

compared as (

    select
        coalesce(staged.date_day, campaigns.date_day, advertised_asins.date_day, asins.date_day) as date_day,
        coalesce(staged.marketplace, campaigns.marketplace, advertised_asins.marketplace, asins.marketplace)
            as marketplace,
        staged.spend as staged_spend,
        campaigns.spend as campaign_spend,
        staged.asin_spend as staged_asin_spend,
        advertised_asins.spend as advertised_asin_spend,
        asins.spend as asin_spend,
        staged.sales_7d as staged_sales_7d,
        campaigns.sales_7d as campaign_sales_7d,
        staged.asin_sales_7d as staged_asin_sales_7d,
        advertised_asins.sales_7d as advertised_asin_sales_7d,
        asins.sales_7d as asin_sales_7d

    from staged
    full outer join campaigns using (date_day, marketplace)
    full outer join advertised_asins using (date_day, marketplace)
    full outer join asins using (date_day, marketplace)

)

select *
from compared
where (
        coalesce(staged_spend, 0) <> coalesce(campaign_spend, 0)
        or coalesce(staged_asin_spend, 0) <> coalesce(advertised_asin_spend, 0)
        or coalesce(staged_asin_spend, 0) <> coalesce(asin_spend, 0)
        or coalesce(staged_sales_7d, 0) <> coalesce(campaign_sales_7d, 0)
        or coalesce(staged_asin_sales_7d, 0) <> coalesce(advertised_asin_sales_7d, 0)
        or coalesce(staged_asin_sales_7d, 0) <> coalesce(asin_sales_7d, 0)
    )
    {%- if min_date %}
    and date_day >= '{{ min_date }}'::date
    {%- endif %}
    {%- if max_date %}
    and date_day <= '{{ max_date }}'::date
    {%- endif %}
    {%- set codes = chalkola_marketplaces_var() %}
    {%- if codes %}
    and marketplace in ({% for code in codes %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif %}
