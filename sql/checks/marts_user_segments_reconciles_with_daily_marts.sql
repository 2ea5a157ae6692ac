-- marts.user_segments (a view) on the run's last day D ([window_start, window_end) is that one
-- day) holds exactly the members that the daily marts give directly, without the features:
-- never_deposited from marts.deposit_ordinals, dormant from marts.daily_logins, new_this_week
-- from core.users, high_value by ranking marts.daily_movements of the 90 days ending with D.
with seen as (
    select user_id collate "C" as user_id, first_seen_on
    from core.users
    where first_seen_on <= %(window_start)s
),

deposits_90d as (
    select
        user_id,
        sum(amount_deposits) filter (where currency = 'mxn') as amount_mxn,
        sum(count_deposits) as count_deposits
    from marts.daily_movements
    where
        day > %(window_start)s::date - 90
        and day <= %(window_start)s
        and count_deposits > 0
    group by user_id
),

ranked as (
    select
        user_id,
        row_number() over (
            order by coalesce(amount_mxn, 0) desc, count_deposits desc, user_id
        ) as position,
        count(*) over () as depositors
    from deposits_90d
),

expected as (
    select 'never_deposited' as segment, seen.user_id
    from seen
    where not exists (
        select
        from marts.deposit_ordinals as ordinals
        where
            ordinals.ordinal = 1
            and ordinals.user_id = seen.user_id
            and ordinals.day <= %(window_start)s
    )

    union all

    select 'dormant', seen.user_id
    from seen
    where
        seen.first_seen_on <= %(window_start)s::date - 30
        and not exists (
            select
            from marts.daily_logins as logins
            where
                logins.user_id = seen.user_id
                and logins.day > %(window_start)s::date - 30
                and logins.day <= %(window_start)s
        )

    union all

    select 'new_this_week', seen.user_id
    from seen
    where seen.first_seen_on > %(window_start)s::date - 7

    union all

    select 'high_value', user_id
    from ranked
    where position <= ceil(depositors / 100.0)
),

actual as (
    select segment, user_id
    from marts.user_segments
    where day = %(window_start)s
),

final as materialized (
    select
        (select count(*) from actual) as members,
        (select count(*) from (select * from expected except all select * from actual) as m)
            as missing_members,
        (select count(*) from (select * from actual except all select * from expected) as e)
            as extra_members
)

select *, missing_members = 0 and extra_members = 0 as passed from final
