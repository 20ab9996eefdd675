with

source as (

    select * from {{ source('amazon', 'sp_sales_traffic_by_asin') }}

),

renamed as (

    select
        -- keys; asin is the child ASIN, or the parent ASIN on a row that carries only the parent
        marketplace::text as marketplace,
        marketplace_id::text as marketplace_id,
        report_date::date as date_day,
        coalesce(nullif(child_asin, ''), parent_asin)::text as asin,
        parent_asin::text as parent_asin,
        nullif(child_asin, '')::text as child_asin,
        nullif(sku, '')::text as sku,
        currency_code::text as currency_code,

        -- sales
        ordered_product_sales::numeric(18, 2) as ordered_product_sales,
        ordered_product_sales_b2b::numeric(18, 2) as ordered_product_sales_b2b,
        units_ordered::bigint as units_ordered,
        units_ordered_b2b::bigint as units_ordered_b2b,
        total_order_items::bigint as total_order_items,
        total_order_items_b2b::bigint as total_order_items_b2b,

        -- traffic
        sessions::bigint as sessions,
        sessions_b2b::bigint as sessions_b2b,
        browser_sessions::bigint as browser_sessions,
        mobile_app_sessions::bigint as mobile_app_sessions,
        page_views::bigint as page_views,
        page_views_b2b::bigint as page_views_b2b,
        browser_page_views::bigint as browser_page_views,
        mobile_app_page_views::bigint as mobile_app_page_views,

        -- Amazon's own ratios (percent, 0-100), kept as reported
        buy_box_percentage::numeric as buy_box_percentage,
        unit_session_percentage::numeric as unit_session_percentage,
        session_percentage::numeric as session_percentage,
        page_views_percentage::numeric as page_views_percentage,

        -- lineage
        report_id::text as report_id,
        loaded_at::timestamptz as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
