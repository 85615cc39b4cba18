-- One row per customer (customer_key) as of D: who they are and since when.
-- first_name, customer_type and region are the key (earliest) account's.

with accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

account_groups as (
    select
        customer_key,
        count(*) as accounts_count,
        cast(min(created_at) as date) as customer_since
    from accounts
    group by customer_key
),

key_accounts as (
    select
        customer_key,
        first_name,
        customer_type,
        region
    from accounts
    where is_key_account
),

final as (
    select
        account_groups.customer_key,
        key_accounts.first_name,
        key_accounts.customer_type,
        key_accounts.region,
        account_groups.customer_since,
        account_groups.accounts_count
    from account_groups
    inner join key_accounts
        on account_groups.customer_key = key_accounts.customer_key
)

select * from final
