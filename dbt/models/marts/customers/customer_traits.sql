-- customer_traits: what a CRM or reverse-ETL sync writes back to its own records, one row
-- per commerce account (keyed by the CRM's own customer_id), as of D. traits_changed_on is
-- the first date of the customer's current (tier, segment, rhythm) in the status history
-- (int_customer_statuses_dated), so a sync can send only the accounts whose traits changed today.

with accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

customer_value as (
    select * from {{ ref('customer_value') }}
),

statuses_dated as (
    select * from {{ ref('int_customer_statuses_dated') }}
),

ranked as (
    select
        customer_key,
        -- 0 for the lowest predicted value, 1 for the highest (0.8: 20 % of the customers
        -- with a prediction have a higher one); ties share a rank
        case
            when predicted_clv_12m is not null
                then percent_rank() over (
                        partition by predicted_clv_12m is not null order by predicted_clv_12m asc
                    )
        end as clv_percentile
    from customer_value
),

final as (
    select
        customer_value.as_of_date,
        accounts.customer_id,
        accounts.customer_key,
        customer_value.value_tier,
        customer_value.value_segment,
        customer_value.rhythm_status,
        customer_value.is_at_risk,
        customer_value.is_lapsed,
        customer_value.annual_value,
        customer_value.predicted_clv_12m,
        cast(ranked.clv_percentile as double) as clv_percentile,
        customer_value.p_alive,
        customer_value.expected_next_order_date,
        statuses_dated.traits_changed_on
    from accounts
    inner join customer_value
        on accounts.customer_key = customer_value.customer_key
    inner join ranked
        on accounts.customer_key = ranked.customer_key
    left join statuses_dated
        on accounts.customer_key = statuses_dated.customer_key
)

select * from final
order by customer_id
