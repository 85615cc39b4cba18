with source as (
    select * from {{ source('voice', 'reviews') }}
),

renamed as (
    select
        review_id,
        customer_id,
        rating,
        posted_at,
        cast(posted_at as date) as posted_date,
        platform,
        updated_at
    from source
)

select * from renamed
