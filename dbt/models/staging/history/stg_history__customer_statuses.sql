with source as (
    {{ recorded_state('history', 'customer_statuses', {
        'customer_key': dbt.type_string(), 'value_tier': dbt.type_string(), 'value_segment': dbt.type_string(),
        'rhythm_status': dbt.type_string(), 'valid_from': 'date', 'valid_to': 'date',
    }) }}
),

renamed as (
    select
        customer_key,
        value_tier,
        value_segment,
        rhythm_status,
        valid_from,
        valid_to,
        value_tier in ('platinum', 'gold') and rhythm_status = 'lapsed' as is_lapsed
    from source
),

final as (
    select * from renamed
)

select * from final
