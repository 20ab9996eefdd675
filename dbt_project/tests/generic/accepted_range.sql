{#- Fails with the rows whose column lies outside [min_value, max_value] (either bound optional;
    `inclusive: false` makes both bounds strict). NULLs pass: combine with not_null where required. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("accepted_range on " ~ column_name ~ ": give min_value and/or max_value") }}
{%- endif -%}

select *
from {{ model }}
where {{ column_name }} is not null
  and not (
      true
      {%- if min_value is not none %}
      and {{ column_name }} {{ '>=' if inclusive else '>' }} {{ min_value }}
      {%- endif %}
      {%- if max_value is not none %}
      and {{ column_name }} {{ '<=' if inclusive else '<' }} {{ max_value }}
      {%- endif %}
  )

{% endtest %}
