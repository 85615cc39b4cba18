-- Purchase metrics per customer with at least one purchase, unrounded (base currency).

with purchases as (
    select * from {{ ref('int_purchases_selected') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_refunded') }}
),

line_totals as (
    select
        customer_key,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin,
        -- the 365-day window: D - 365 < order date <= D
        sum(net_revenue) filter (
            where order_date > {{ as_of_date() }} - 365
        ) as net_revenue_365d,
        sum(gross_margin) filter (
            where order_date > {{ as_of_date() }} - 365
        ) as gross_margin_365d
    from order_lines
    group by customer_key
),

order_totals as (
    select
        customer_key,
        count(*) as orders_count,
        count(distinct order_date) as purchase_days,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from purchases
    group by customer_key
),

purchase_dates as (
    select distinct
        customer_key,
        order_date
    from purchases
),

gaps as (
    select
        customer_key,
        order_date - lag(order_date) over (
            partition by customer_key
            order by order_date
        ) as gap_days
    from purchase_dates
),

median_gaps as (
    select
        customer_key,
        median(gap_days) as median_gap_days
    from gaps
    where gap_days is not null
    group by customer_key
),

final as (
    select
        order_totals.customer_key,
        order_totals.orders_count,
        order_totals.purchase_days,
        order_totals.first_order_date,
        order_totals.last_order_date,
        {{ as_of_date() }} - order_totals.first_order_date as tenure_days,
        {{ as_of_date() }} - order_totals.last_order_date as recency_days,
        coalesce(line_totals.gross_revenue, 0) as gross_revenue,
        coalesce(line_totals.refunded_amount, 0) as refunded_amount,
        coalesce(line_totals.net_revenue, 0) as net_revenue,
        coalesce(line_totals.cost_of_goods, 0) as cost_of_goods,
        coalesce(line_totals.gross_margin, 0) as gross_margin,
        coalesce(line_totals.net_revenue, 0) / order_totals.orders_count as average_order_value,
        coalesce(line_totals.net_revenue_365d, 0) as net_revenue_365d,
        coalesce(line_totals.gross_margin_365d, 0) as gross_margin_365d,
        median_gaps.median_gap_days
    from order_totals
    left join line_totals
        on order_totals.customer_key = line_totals.customer_key
    left join median_gaps
        on order_totals.customer_key = median_gaps.customer_key
)

select * from final
