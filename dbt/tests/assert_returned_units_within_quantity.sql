-- A line never returns more units than it sold, nor fewer than zero: cost is never negative.

with order_lines as (
    select * from {{ ref('int_order_lines_refunded') }}
)

select
    order_line_id,
    quantity,
    refunded_quantity,
    returned_units
from order_lines
where
    returned_units > quantity
    or returned_units < 0
    or returned_units > refunded_quantity
    or cost_of_goods < 0
