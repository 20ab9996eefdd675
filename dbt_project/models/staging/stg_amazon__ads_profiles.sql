with

source as (

    select * from {{ source('amazon', 'ads_profiles') }}

),

renamed as (

    select
        profile_id::bigint as profile_id,
        region::text as region,
        marketplace::text as marketplace,
        marketplace_string_id::text as marketplace_id,
        -- older profiles say UK, newer GB: normalised to ISO 3166-1 (GB)
        case when upper(country_code) = 'UK' then 'GB' else upper(country_code) end::text as country_code,
        currency_code::text as currency_code,
        timezone::text as timezone,
        daily_budget::numeric(18, 2) as daily_budget,
        account_id::text as account_id,
        account_type::text as account_type,
        account_name::text as account_name,
        account_sub_type::text as account_sub_type,
        valid_payment_method::boolean as has_valid_payment_method,
        request_id::text as request_id,
        loaded_at::timestamptz as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
