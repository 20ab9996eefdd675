{#-
  The rebuild window of the incremental facts (delete+insert on the mart's date × marketplace).

  * vars min_date / max_date (YYYY-MM-DD, inclusive, either may be omitted): rebuild exactly that window
    (Dagster passes the partition window of the run);
  * otherwise: the last var('lookback_days') days up to the newest day already built (Amazon restates S&T and
    Ads attribution keeps moving for ~14 days), plus every marketplace-day whose raw rows were loaded since
    the previous build (minus one day of grace for long-running loads; both read once per build), which picks up backfills;
  * var('marketplaces') (a list or a comma-separated string of codes) narrows either window.
  A first build or --full-refresh ignores all of this and builds the whole history.
-#}

{% macro chalkola_date_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ "=" ~ text ~ " is not a YYYY-MM-DD date; pass e.g. --vars '{" ~ name ~ ": 2024-01-31}'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{% macro chalkola_marketplaces_var() -%}
    {%- set value = var('marketplaces', none) -%}
    {%- if value is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set items = value.split(',') if value is string else value -%}
    {%- set codes = [] -%}
    {%- for item in items -%}
        {%- set code = item | string | trim | upper -%}
        {%- if code -%}
            {%- if not modules.re.match('^[A-Z]{2}$', code) -%}
                {{ exceptions.raise_compiler_error("var marketplaces: " ~ code ~ " is not a two-letter marketplace code (US, UK, DE ...)") }}
            {%- endif -%}
            {%- do codes.append(code) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(codes) }}
{%- endmacro %}


{#- (min_date, max_date) as SQL date literals; '-infinity' / 'infinity' where open. -#}
{% macro chalkola_window_bounds() -%}
    {%- set min_date = chalkola_date_var('min_date') -%}
    {%- set max_date = chalkola_date_var('max_date') -%}
    {%- set explicit = min_date is not none or max_date is not none -%}
    {%- set changed_since = none -%}
    {%- if not explicit and execute -%}
        {#- read once, before the pre_hook empties the window, so the hook and the model agree -#}
        {%- set lookback = var('lookback_days', 45) | int -%}
        {%- set result = run_query(
            "select (max(date) - " ~ lookback ~ ")::text, (max(source_loaded_at) - interval '1 day')::text"
            ~ " from " ~ this) -%}
        {%- set min_date = result.columns[0].values()[0] -%}
        {%- set changed_since = result.columns[1].values()[0] -%}
    {%- endif -%}
    {{ return({
        'min': "'" ~ (min_date or '-infinity') ~ "'::date",
        'max': "'" ~ (max_date or 'infinity') ~ "'::date",
        'explicit': explicit,
        'changed_since': ("'" ~ changed_since ~ "'::timestamptz") if changed_since else none,
    }) }}
{%- endmacro %}


{% macro chalkola_marketplace_filter(marketplace_column) -%}
    {%- set codes = chalkola_marketplaces_var() -%}
    {%- if codes -%}
        and {{ marketplace_column }} in ({% for code in codes %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}


{#- [(marketplace, first day, last day)]: the marketplace-days loaded since changed_since in the changed
    sources, as runs of consecutive days (read once per call). A few range predicates per marketplace, which
    the planner serves from the date index, where a row-wise `(date, marketplace) in (select … union …)` over
    millions of staging rows became a plain SubPlan re-scanned per row (the first build after a 24-month
    backfill ran for many minutes). -#}
{% macro chalkola_changed_ranges(changed_sources, changed_since) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for source_relation in changed_sources -%}
        {%- do parts.append("select distinct marketplace, date_day from " ~ source_relation
            ~ " where loaded_at >= " ~ changed_since) -%}
    {%- endfor -%}
    {#- gaps-and-islands: consecutive days of a marketplace share day − row_number() -#}
    {%- set result = run_query(
        "select marketplace, min(date_day)::text, max(date_day)::text from ("
        ~ " select marketplace, date_day, date_day - (row_number() over (partition by marketplace"
        ~ " order by date_day))::int as island from (" ~ parts | join(" union ") ~ ") changed) days"
        ~ " group by marketplace, island order by 1, 2") -%}
    {%- set out = [] -%}
    {%- for row in result.rows -%}
        {%- if not modules.re.match('^[A-Z]{2}$', row[0] | string) -%}
            {{ exceptions.raise_compiler_error("marketplace code " ~ row[0] ~ " in the staging data is not two letters") }}
        {%- endif -%}
        {%- do out.append((row[0], row[1], row[2])) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{#- A WHERE predicate selecting the marketplace-days to (re)build from a staging relation. -#}
{% macro in_build_window(changed_sources=[], date_column='date_day', marketplace_column='marketplace') -%}
    {%- if is_incremental() -%}
        {%- set bounds = chalkola_window_bounds() -%}
        (
            ({{ date_column }} between {{ bounds.min }} and {{ bounds.max }})
            {%- if not bounds.explicit and bounds.changed_since and changed_sources %}
            {%- for code, first_day, last_day in chalkola_changed_ranges(changed_sources, bounds.changed_since) %}
            or ({{ marketplace_column }} = '{{ code }}' and {{ date_column }} between '{{ first_day }}'::date and '{{ last_day }}'::date)
            {%- endfor %}
            {%- endif %}
        )
        {{ chalkola_marketplace_filter(marketplace_column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- pre_hook of the incremental facts: empty the window first, so a marketplace-day whose raw rows vanished
    (e.g. a restated report with no rows) does not keep stale mart rows. -#}
{% macro delete_build_window(date_column='date', marketplace_column='marketplace') -%}
    {%- if is_incremental() -%}
        {%- set bounds = chalkola_window_bounds() -%}
        delete from {{ this }}
        where {{ date_column }} between {{ bounds.min }} and {{ bounds.max }}
        {{ chalkola_marketplace_filter(marketplace_column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
