-- Identity resolution: every commerce account opened by D, mapped to its customer_key.
-- Accounts sharing a normalised e-mail are one customer, keyed by the group's
-- earliest-created account (ties: smallest customer_id); accounts without e-mail stand alone.

with customers as (
    select * from {{ ref('stg_commerce__customers') }}
),

accounts as (
    select
        customer_id,
        nullif(lower(trim(email)), '') as email_normalized,
        first_name,
        customer_type,
        region,
        created_at
    from customers
    -- accounts created after D are not yet customers
    where created_date <= {{ as_of_date() }}
),

ranked as (
    select
        *,
        first_value(customer_id) over (
            partition by email_normalized
            order by created_at asc, customer_id asc
        ) as earliest_account_id
    from accounts
),

mapped as (
    select
        customer_id,
        email_normalized,
        first_name,
        customer_type,
        region,
        created_at,
        case
            when email_normalized is null then customer_id
            else earliest_account_id
        end as customer_key
    from ranked
),

final as (
    select
        customer_id,
        customer_key,
        customer_id = customer_key as is_key_account,
        email_normalized,
        first_name,
        customer_type,
        region,
        created_at
    from mapped
)

select * from final
