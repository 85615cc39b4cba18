-- customer_moments: what a frontline employee or a CRM acts on today, one row per customer
-- and moment in the window W = (D - N, D] (N = moment_window_days, default 7): whom to
-- thank (anniversary, orders milestone, converted referral, tier upgrade), call (became at
-- risk), win back (lapsed) or recover (complaint). Transitions compare D with the
-- customer's state on the latest recorded as-of date before D; without one, none is reported.

with customer_value as (
    select * from {{ ref('customer_value') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

purchase_days as (
    select * from {{ ref('int_purchase_days_aggregated') }}
    where {{ in_moment_window('purchase_date') }}
),

referrals as (
    select * from {{ ref('int_referrals_attributed') }}
    where not is_self_referral and referee_customer_key is not null
),

feedback as (
    select * from {{ ref('stg_voice__feedback') }}
    where feedback_kind = 'complaint' and {{ in_moment_window('submitted_date') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

statuses as (
    select * from {{ ref('stg_history__customer_statuses') }}
),

-- "before D": the latest as-of date before D the history recorded
previous_date as (
    select max(as_of_date) as as_of_date
    from {{ ref('stg_history__status_dates') }}
    where as_of_date < {{ as_of_date() }}
),

-- a whole number of years since customer_since, this calendar year's or last one's (W is at
-- most 365 days); 29 February is celebrated on 28 February in other years
calendar_years as (
    select
        customer_key,
        customer_since,
        extract(year from {{ as_of_date() }}) - extract(year from customer_since) as calendar_years
    from customer_value
    where value_tier in ('platinum', 'gold', 'silver')
),

anniversary_years as (
    select
        calendar_years.customer_key,
        calendar_years.customer_since,
        calendar_years.calendar_years - year_offsets.years_back as tenure_years
    from calendar_years
    cross join (values (0), (1)) as year_offsets (years_back)
),

anniversaries as (
    select
        customer_key,
        tenure_years,
        cast({{ dbt.dateadd('year', 'tenure_years', 'customer_since') }} as date) as moment_date
    from anniversary_years
    where tenure_years >= 1
),

-- W is at most 365 days, so at most one anniversary of a customer falls in it
anniversary_moments as (
    select
        customer_key,
        'anniversary' as moment,
        moment_date,
        tenure_years || case when tenure_years = 1 then ' year' else ' years' end || ' a customer' as detail,
        'thank' as action
    from anniversaries
    where {{ in_moment_window('moment_date') }}
),

-- orders through a day of W = all orders to D minus those on later days of W
orders_through as (
    select
        purchase_days.customer_key,
        purchase_days.purchase_date,
        customer_value.orders_count - coalesce(sum(purchase_days.orders_count) over (
            partition by purchase_days.customer_key
            order by purchase_days.purchase_date desc
            rows between unbounded preceding and 1 preceding
        ), 0) as orders_to_day,
        purchase_days.orders_count as orders_on_day
    from purchase_days
    inner join customer_value
        on purchase_days.customer_key = customer_value.customer_key
),

milestones as (
    select milestones.milestone
    from (values (10), (25), (50), (100), (250), (500), (1000)) as milestones (milestone)
),

milestones_passed as (
    select
        orders_through.customer_key,
        orders_through.purchase_date,
        milestones.milestone,
        -- several milestones passed in W: the highest one
        row_number() over (
            partition by orders_through.customer_key order by milestones.milestone desc
        ) as highest_first
    from orders_through
    inner join milestones
        on
            orders_through.orders_to_day - orders_through.orders_on_day < milestones.milestone
            and orders_through.orders_to_day >= milestones.milestone
),

milestone_moments as (
    select
        customer_key,
        'orders_milestone' as moment,
        purchase_date as moment_date,
        milestone || 'th order' as detail,
        'thank' as action
    from milestones_passed
    where highest_first = 1
),

referred as (
    select distinct
        referrer_customer_key,
        referee_customer_key
    from referrals
),

conversions as (
    select
        referred.referrer_customer_key as customer_key,
        referred.referee_customer_key,
        coalesce(referee_names.first_name, 'a customer') as referee_name,
        referee.first_order_date
    from referred
    inner join customer_value as referee
        on referred.referee_customer_key = referee.customer_key
    left join customers as referee_names
        on referred.referee_customer_key = referee_names.customer_key
    where {{ in_moment_window('referee.first_order_date') }}
),

referral_moments as (
    select
        customer_key,
        'referral_converted' as moment,
        first_order_date as moment_date,
        'referred ' || referee_name
        || case
            when converted = 1 then ''
            when converted = 2 then ' and 1 other'
            else ' and ' || (converted - 1) || ' others'
        end
        || ': first order on ' || cast(first_order_date as varchar) as detail,
        'thank' as action
    from (
        select
            *,
            count(*) over (partition by customer_key) as converted,
            row_number() over (
                partition by customer_key order by first_order_date desc, referee_customer_key asc
            ) as latest
        from conversions
    ) as ranked
    where latest = 1
),

-- the customer's state on that date (intervals are inclusive); a customer without one, new
-- since or merged away, has no transition to report
previous_states as (
    select
        statuses.customer_key,
        statuses.value_tier,
        statuses.is_lapsed,
        statuses.value_tier in ('platinum', 'gold') and statuses.rhythm_status = 'overdue' as is_at_risk
    from statuses
    inner join previous_date
        on
            statuses.valid_from <= previous_date.as_of_date
            and statuses.valid_to >= previous_date.as_of_date
),

transitions as (
    select
        customer_value.*,
        previous_states.value_tier as previous_tier,
        previous_states.is_at_risk as was_at_risk,
        previous_states.is_lapsed as was_lapsed,
        customer_value.as_of_date - customer_value.expected_next_order_date as days_overdue
    from customer_value
    inner join previous_states
        on customer_value.customer_key = previous_states.customer_key
),

tier_ranks as (
    select
        tier_ranks.value_tier,
        tier_ranks.tier_rank
    from (values ('bronze', 1), ('silver', 2), ('gold', 3), ('platinum', 4)) as tier_ranks (value_tier, tier_rank)
),

upgrade_moments as (
    select
        transitions.customer_key,
        'tier_upgrade' as moment,
        transitions.as_of_date as moment_date,
        'from ' || transitions.previous_tier || ' to ' || transitions.value_tier as detail,
        'thank' as action
    from transitions
    inner join tier_ranks as now_rank
        on transitions.value_tier = now_rank.value_tier
    inner join tier_ranks as before_rank
        on transitions.previous_tier = before_rank.value_tier
    where now_rank.tier_rank > before_rank.tier_rank
),

at_risk_moments as (
    select
        customer_key,
        'became_at_risk' as moment,
        as_of_date as moment_date,
        {{ overdue_reason('earns us') }} as detail,
        'call' as action
    from transitions
    where is_at_risk and not coalesce(was_at_risk, false)
),

lapsed_moments as (
    select
        customer_key,
        'lapsed' as moment,
        as_of_date as moment_date,
        {{ overdue_reason('earned us') }} as detail,
        'win_back' as action
    from transitions
    where is_lapsed and not coalesce(was_lapsed, false)
),

complaints as (
    select
        accounts.customer_key,
        feedback.feedback_id,
        feedback.submitted_at,
        feedback.submitted_date,
        feedback.csat
    from feedback
    inner join accounts
        on feedback.customer_id = accounts.customer_id
),

complaint_moments as (
    select
        complaints.customer_key,
        'complaint' as moment,
        complaints.submitted_date as moment_date,
        'complaint on ' || cast(complaints.submitted_date as varchar)
        || coalesce(', CSAT ' || complaints.csat, '')
        || case
            when complaints.submitted = 1 then ''
            else ' (' || complaints.submitted || ' complaints in the window)'
        end as detail,
        'recover' as action
    from (
        select
            *,
            count(*) over (partition by customer_key) as submitted,
            row_number() over (partition by customer_key order by submitted_at desc, feedback_id desc) as latest
        from complaints
    ) as complaints
    inner join customer_value
        on complaints.customer_key = customer_value.customer_key
    where complaints.latest = 1 and customer_value.value_tier in ('platinum', 'gold')
),

moments as (
    select * from anniversary_moments
    union all
    select * from milestone_moments
    union all
    select * from referral_moments
    union all
    select * from upgrade_moments
    union all
    select * from at_risk_moments
    union all
    select * from lapsed_moments
    union all
    select * from complaint_moments
),

final as (
    select
        customer_value.as_of_date,
        moments.customer_key,
        customers.first_name,
        customer_value.value_tier,
        moments.moment,
        moments.action,
        moments.moment_date,
        moments.detail,
        customer_value.annual_value
    from moments
    inner join customer_value
        on moments.customer_key = customer_value.customer_key
    left join customers
        on moments.customer_key = customers.customer_key
)

select * from final
order by action asc, annual_value desc nulls last, customer_key asc, moment asc
