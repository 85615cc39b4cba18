-- One row per customer of customer_value as of D: since when their current (value_tier,
-- value_segment, rhythm_status) holds (traits_changed_on) and, for a lapsed customer, since
-- when they are lapsed (lapsed_on). Read from the status history as the nights before D
-- recorded it, extended by D's own states: the history records D only after the marts are
-- built, so a night needs one dbt build, not two. A backfill of D sees only the dates before
-- D, as the history will once D is recorded.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

statuses as (
    select * from {{ ref('stg_history__customer_statuses') }}
),

status_dates as (
    select * from {{ ref('stg_history__status_dates') }}
),

-- P: the latest date recorded before D
previous_date as (
    select max(as_of_date) as as_of_date
    from status_dates
    where as_of_date < {{ as_of_date() }}
),

-- the history as it stood on P (an interval reaching past P is cut there)
before_date as (
    select
        statuses.customer_key,
        statuses.value_tier,
        statuses.value_segment,
        statuses.rhythm_status,
        statuses.is_lapsed,
        statuses.valid_from,
        least(statuses.valid_to, previous_date.as_of_date) as valid_to,
        statuses.valid_to >= previous_date.as_of_date as holds_on_previous_date
    from statuses
    cross join previous_date
    where statuses.valid_from <= previous_date.as_of_date
),

current_states as (
    select
        customer_key,
        value_tier,
        value_segment,
        rhythm_status,
        coalesce(value_tier in ('platinum', 'gold') and rhythm_status = 'lapsed', false) as is_lapsed
    from customer_value
),

-- a state that held on P and still holds on D goes on: one interval (a customer without a
-- state on P, new or re-keyed, starts a new one, as the history does)
continuing as (
    select
        before_date.customer_key,
        before_date.valid_from
    from before_date
    inner join current_states
        on
            before_date.customer_key = current_states.customer_key
            and before_date.value_tier is not distinct from current_states.value_tier
            and before_date.value_segment is not distinct from current_states.value_segment
            and before_date.rhythm_status is not distinct from current_states.rhythm_status
    where before_date.holds_on_previous_date
),

-- the lapse is the trailing run of lapsed intervals, D's state included: it began after the
-- last date the customer was recorded not lapsed
last_not_lapsed as (
    select
        customer_key,
        max(valid_to) as last_not_lapsed_on
    from before_date
    where not coalesce(is_lapsed, false)
    group by customer_key
),

lapse_starts as (
    select
        before_date.customer_key,
        min(before_date.valid_from) as lapsed_on
    from before_date
    left join last_not_lapsed
        on before_date.customer_key = last_not_lapsed.customer_key
    where
        before_date.is_lapsed
        and (last_not_lapsed.last_not_lapsed_on is null or before_date.valid_from > last_not_lapsed.last_not_lapsed_on)
    group by before_date.customer_key
),

final as (
    select
        current_states.customer_key,
        coalesce(continuing.valid_from, {{ as_of_date() }}) as traits_changed_on,
        -- no lapsed run in the history before D: the lapse begins on D
        case when current_states.is_lapsed then coalesce(lapse_starts.lapsed_on, {{ as_of_date() }}) end as lapsed_on
    from current_states
    left join continuing
        on current_states.customer_key = continuing.customer_key
    left join lapse_starts
        on current_states.customer_key = lapse_starts.customer_key
)

select * from final
