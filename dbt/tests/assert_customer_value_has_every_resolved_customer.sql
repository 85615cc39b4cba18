-- Every customer that identity resolution found as of D has its row in customer_value
-- (the reverse, no row without a resolved customer, is customer_value's relationships test).
{{ config(meta={'dagster': {'ref': {'name': 'customer_value'}}}) }}

with accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

customer_value as (
    select * from {{ ref('customer_value') }}
)

select distinct accounts.customer_key
from accounts
left join customer_value
    on accounts.customer_key = customer_value.customer_key
where customer_value.customer_key is null
