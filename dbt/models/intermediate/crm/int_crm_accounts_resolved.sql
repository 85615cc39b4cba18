-- CRM attributes per customer: the latest non-deleted CRM row of any of the customer's
-- accounts (by updated_at; ties: smallest customer_id).

with crm_accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

live_rows as (
    select
        accounts.customer_key,
        crm_accounts.customer_id,
        crm_accounts.lifestage,
        crm_accounts.declared_category_spend,
        crm_accounts.third_party_wallet_estimate,
        crm_accounts.updated_at
    from crm_accounts
    inner join accounts
        on crm_accounts.customer_id = accounts.customer_id
    where not crm_accounts.is_deleted
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_key
            order by updated_at desc, customer_id asc
        ) as recency_rank
    from live_rows
),

latest as (
    select *
    from ranked
    where recency_rank = 1
),

final as (
    select
        customer_key,
        customer_id as crm_customer_id,
        lifestage,
        declared_category_spend,
        third_party_wallet_estimate,
        updated_at as crm_updated_at
    from latest
)

select * from final
