-- 004: multi-channel fulfilment (MCF) rows of the order report. Amazon's all-orders report holds every
-- marketplace of the region (sales-channel Amazon.com, Amazon.de ...) plus orders of the seller's other shops
-- that FBA fulfilled, with sales-channel 'Non-Amazon': they are no Amazon marketplace's sales, so they live
-- here, keyed by region and purchase instant, never in raw_amazon.sp_order_items (whose rows are routed to
-- their marketplace by sales-channel). A load replaces the MCF rows purchased inside the document's window.
create table if not exists raw_amazon.sp_mcf_order_items (
    region text not null,
    line_number integer not null,
    amazon_order_id text not null,
    merchant_order_id text,
    purchase_date timestamptz not null,
    last_updated_date timestamptz,
    order_status text,
    fulfillment_channel text,
    sales_channel text,
    order_channel text,
    ship_service_level text,
    product_name text,
    sku text,
    asin text,
    item_status text,
    quantity integer,
    currency text,
    item_price numeric(18,2),
    item_tax numeric(18,2),
    shipping_price numeric(18,2),
    shipping_tax numeric(18,2),
    gift_wrap_price numeric(18,2),
    gift_wrap_tax numeric(18,2),
    item_promotion_discount numeric(18,2),
    ship_promotion_discount numeric(18,2),
    ship_state text,
    ship_country text,
    promotion_ids text,
    is_business_order boolean,
    purchase_order_number text,
    price_designation text,
    extra_columns jsonb not null default '{}'::jsonb,
    report_id text not null,
    loaded_at timestamptz not null default now(),
    primary key (region, amazon_order_id, line_number)
);
create index if not exists sp_mcf_order_items_purchase_idx
    on raw_amazon.sp_mcf_order_items (region, purchase_date);
