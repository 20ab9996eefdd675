with

source as (

    select * from {{ source('amazon', 'report_requests') }}

),

renamed as (

    select
        id::bigint as report_request_id,
        source::text as report_source,
        report_type::text as report_type,
        region::text as region,
        marketplace::text as marketplace,
        profile_id::bigint as profile_id,
        window_start::timestamptz as window_start_at,
        window_end::timestamptz as window_end_at,
        options::jsonb as report_options,
        request_key::text as request_key,
        report_id::text as report_id,
        status::text as status,
        document_id::text as document_id,
        row_count::integer as row_count,
        error::text as error_message,
        request_ids::text[] as request_ids,
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        completed_at::timestamptz as completed_at

    from source

),

final as (

    select * from renamed

)

select * from final
