with

source as (

    select * from {{ source('amazon', 'sp_sales_traffic_by_date') }}

),

renamed as (

    select
        -- keys
        marketplace::text as marketplace,
        marketplace_id::text as marketplace_id,
        report_date::date as date_day,
        currency_code::text as currency_code,

        -- sales
        ordered_product_sales::numeric(18, 2) as ordered_product_sales,
        ordered_product_sales_b2b::numeric(18, 2) as ordered_product_sales_b2b,
        units_ordered::bigint as units_ordered,
        units_ordered_b2b::bigint as units_ordered_b2b,
        total_order_items::bigint as total_order_items,
        total_order_items_b2b::bigint as total_order_items_b2b,
        units_refunded::bigint as units_refunded,
        claims_granted::bigint as claims_granted,
        claims_amount::numeric(18, 2) as claims_amount,
        shipped_product_sales::numeric(18, 2) as shipped_product_sales,
        units_shipped::bigint as units_shipped,
        orders_shipped::bigint as orders_shipped,

        -- traffic
        page_views::bigint as page_views,
        page_views_b2b::bigint as page_views_b2b,
        browser_page_views::bigint as browser_page_views,
        mobile_app_page_views::bigint as mobile_app_page_views,
        sessions::bigint as sessions,
        sessions_b2b::bigint as sessions_b2b,
        browser_sessions::bigint as browser_sessions,
        mobile_app_sessions::bigint as mobile_app_sessions,

        -- Amazon's own ratios (percent, 0-100), kept as reported
        buy_box_percentage::numeric as buy_box_percentage,
        order_item_session_percentage::numeric as order_item_session_percentage,
        unit_session_percentage::numeric as unit_session_percentage,
        refund_rate::numeric as refund_rate,

        -- lineage
        report_id::text as report_id,
        loaded_at::timestamptz as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
