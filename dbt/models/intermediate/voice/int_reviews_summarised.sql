-- Reviews posted on or before D, per customer.

with reviews as (
    select * from {{ ref('stg_voice__reviews') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

final as (
    select
        accounts.customer_key,
        count(*) as reviews_count,
        avg(reviews.rating) as avg_rating,
        max(reviews.posted_at) as last_posted_at
    from reviews
    inner join accounts
        on reviews.customer_id = accounts.customer_id
    where reviews.posted_date <= {{ as_of_date() }}
    group by accounts.customer_key
)

select * from final
