with source as (
    select * from {{ source('commerce', 'fx_rates') }}
),

renamed as (
    select
        currency as currency_code,
        rate_date,
        rate_to_base,
        _loaded_at as loaded_at
    from source
)

select * from renamed
