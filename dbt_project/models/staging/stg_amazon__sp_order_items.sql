with

source as (

    select * from {{ source('amazon', 'sp_order_items') }}

),

renamed as (

    select
        -- keys
        marketplace::text as marketplace,
        order_date::date as date_day,
        amazon_order_id::text as amazon_order_id,
        line_number::integer as line_number,
        merchant_order_id::text as merchant_order_id,

        -- order
        purchase_date::timestamptz as purchased_at,
        last_updated_date::timestamptz as last_updated_at,
        order_status::text as order_status,
        item_status::text as item_status,
        fulfillment_channel::text as fulfillment_channel,
        sales_channel::text as sales_channel,
        order_channel::text as order_channel,
        ship_service_level::text as ship_service_level,
        ship_state::text as ship_state,
        ship_country::text as ship_country,
        is_business_order::boolean as is_business_order,
        promotion_ids::text as promotion_ids,

        -- product
        nullif(trim(asin), '')::text as asin,
        nullif(trim(sku), '')::text as sku,
        nullif(trim(product_name), '')::text as product_name,

        -- amounts (NULL for pending orders: Amazon sends no price yet)
        quantity::integer as quantity,
        nullif(currency, '')::text as currency_code,
        item_price::numeric(18, 2) as item_price,
        item_tax::numeric(18, 2) as item_tax,
        shipping_price::numeric(18, 2) as shipping_price,
        shipping_tax::numeric(18, 2) as shipping_tax,
        gift_wrap_price::numeric(18, 2) as gift_wrap_price,
        gift_wrap_tax::numeric(18, 2) as gift_wrap_tax,
        item_promotion_discount::numeric(18, 2) as item_promotion_discount,
        ship_promotion_discount::numeric(18, 2) as ship_promotion_discount,

        -- lineage
        report_id::text as report_id,
        loaded_at::timestamptz as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
