-- marts.user_segments (a view over the daily marts) on the run's last day D ([window_start,
-- window_end) is that one day) holds exactly the members that the other route to the same
-- rules gives: each account's features as of D (its latest marts.daily_user_features row on
-- or before D: deposits to date and over 90 days, mxn amounts) and each user's last login day
-- on or before D, so a wrong formula on either side shows.
with seen as (
    select user_id collate "C" as user_id, first_seen_on
    from core.users
    where first_seen_on <= %(window_start)s
),

accounts as (
    select distinct on (user_id, currency)
        user_id,
        currency,
        count_deposits_to_date,
        count_deposits_90d,
        amount_deposits_90d
    from marts.daily_user_features
    where day <= %(window_start)s
    order by user_id, currency, day desc
),

deposits as (
    select
        user_id,
        sum(count_deposits_to_date) as count_to_date,
        sum(count_deposits_90d) as count_90d,
        sum(amount_deposits_90d) filter (where currency = 'mxn') as amount_mxn_90d
    from accounts
    group by user_id
),

last_logins as (
    select user_id, max(day) as last_login_on
    from marts.daily_logins
    where day <= %(window_start)s
    group by user_id
),

ranked as (
    select
        user_id,
        row_number() over (
            order by coalesce(amount_mxn_90d, 0) desc, count_90d desc, user_id
        ) as position,
        count(*) over () as depositors
    from deposits
    where count_90d > 0
),

expected as (
    select 'never_deposited' as segment, seen.user_id
    from seen
    left join deposits on deposits.user_id = seen.user_id
    where coalesce(deposits.count_to_date, 0) = 0

    union all

    select 'dormant', seen.user_id
    from seen
    left join last_logins on last_logins.user_id = seen.user_id
    where
        seen.first_seen_on <= %(window_start)s::date - 30
        and coalesce(last_logins.last_login_on <= %(window_start)s::date - 30, true)

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
