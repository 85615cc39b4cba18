-- Feedback submitted on or before D, per customer: counts, average CSAT, the latest feedback
-- (its kind and CSAT), and the NPS of the latest feedback that has one (ties on
-- submitted_at: the largest feedback_id).

with feedback as (
    select * from {{ ref('stg_voice__feedback') }}
),

accounts as (
    select * from {{ ref('int_accounts_mapped') }}
),

feedback_to_date as (
    select
        accounts.customer_key,
        feedback.feedback_id,
        feedback.submitted_at,
        feedback.feedback_kind,
        feedback.csat,
        feedback.nps
    from feedback
    inner join accounts
        on feedback.customer_id = accounts.customer_id
    where feedback.submitted_date <= {{ as_of_date() }}
),

totals as (
    select
        customer_key,
        count(*) as feedback_count,
        count(*) filter (where feedback_kind = 'complaint') as complaints_count,
        avg(csat) as avg_csat,
        max(submitted_at) as last_submitted_at
    from feedback_to_date
    group by customer_key
),

feedback_ranked as (
    select
        customer_key,
        feedback_kind,
        csat,
        submitted_at,
        row_number() over (
            partition by customer_key
            order by submitted_at desc, feedback_id desc
        ) as recency_rank
    from feedback_to_date
),

latest_feedback as (
    select
        customer_key,
        feedback_kind as latest_feedback_kind,
        csat as latest_feedback_csat,
        cast(submitted_at as date) as latest_feedback_date
    from feedback_ranked
    where recency_rank = 1
),

nps_answers as (
    select
        customer_key,
        nps,
        submitted_at,
        row_number() over (
            partition by customer_key
            order by submitted_at desc, feedback_id desc
        ) as recency_rank
    from feedback_to_date
    where nps is not null
),

latest_nps as (
    select
        customer_key,
        nps as latest_nps,
        submitted_at as latest_nps_at
    from nps_answers
    where recency_rank = 1
),

final as (
    select
        totals.customer_key,
        totals.feedback_count,
        totals.complaints_count,
        totals.avg_csat,
        totals.last_submitted_at,
        latest_feedback.latest_feedback_kind,
        latest_feedback.latest_feedback_csat,
        latest_feedback.latest_feedback_date,
        latest_nps.latest_nps,
        latest_nps.latest_nps_at,
        case
            when latest_nps.latest_nps >= 9 then 'promoter'
            when latest_nps.latest_nps >= 7 then 'passive'
            when latest_nps.latest_nps >= 0 then 'detractor'
        end as nps_category
    from totals
    left join latest_feedback
        on totals.customer_key = latest_feedback.customer_key
    left join latest_nps
        on totals.customer_key = latest_nps.customer_key
)

select * from final
