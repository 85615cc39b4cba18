with source as (
    select * from {{ source('clv', 'purchase_predictions') }}
),

renamed as (
    select
        as_of_date,
        frequency,
        t_x_days,
        t_days,
        customers,
        p_alive,
        expected_purchases_365d,
        discounted_purchases_12m,
        purchases_365d_low,
        purchases_365d_high
    from source
)

select * from renamed
