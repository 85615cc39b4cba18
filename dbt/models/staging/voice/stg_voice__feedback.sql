with source as (
    select * from {{ source('voice', 'feedback') }}
),

renamed as (
    select
        feedback_id,
        customer_id,
        submitted_at,
        cast(submitted_at as date) as submitted_date,
        kind as feedback_kind,
        csat,
        nps,
        updated_at
    from source
)

select * from renamed
