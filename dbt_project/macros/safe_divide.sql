{#-
  numerator / denominator as numeric, rounded to `scale` decimal places (Postgres round(numeric, n):
  half away from zero). NULL when the denominator is 0 or NULL: never a division error, never infinity.
-#}
{% macro safe_divide(numerator, denominator, scale=6) -%}
    round(({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0), {{ scale }})
{%- endmacro %}
