-- marts.user_segments (view): one row per built UTC day, segment and user in it, computed when
-- read from the daily marts the segments follow from: filter on day (and segment) and only
-- that day is evaluated, so storage does not grow with users x days. Each branch reads only
-- the indexed facts of its rule, so a day's segment costs a few index ranges, not an as-of
-- assembly of every user's features (the segments check recomputes them from the features).
-- Population: users seen (first transaction or event, core.users) on or before the day.
--   never_deposited  no counted deposit on or before the day (no 1st deposit ordinal by then)
--   dormant          first seen 30 days or more before the day, no login in the 30 days
--                    ending with it (marts.daily_logins)
--   new_this_week    first seen in the 7 days ending with the day
--   high_value       the top 1 % (rounded up) of the users with a counted deposit in the 90
--                    days ending with the day (marts.daily_movements), ranked by their counted
--                    mxn deposit amount in those days (no mxn deposit: 0), then by their
--                    counted deposits in any currency, then by user_id
-- No CTEs: each branch must see the day filter (a CTE read by several branches would be
-- computed for every built day).
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create or replace view marts.user_segments as
select built.day, 'never_deposited' as segment, users.user_id collate "C" as user_id
from marts.daily_kpis as built
inner join core.users as users on users.first_seen_on <= built.day
where not exists (
    select
    from marts.deposit_ordinals as ordinals
    where
        ordinals.ordinal = 1
        and ordinals.user_id = users.user_id collate "C"
        and ordinals.day <= built.day
)

union all

select built.day, 'dormant' as segment, dormant.user_id
from marts.daily_kpis as built
cross join lateral (
    -- a set difference hashes the day's 30 days of logins once, where an anti join would
    -- probe the logins of every user seen
    select users.user_id collate "C" as user_id
    from core.users as users
    where users.first_seen_on <= built.day - 30
    except
    select logins.user_id
    from marts.daily_logins as logins
    where logins.day > built.day - 30 and logins.day <= built.day
) as dormant

union all

select built.day, 'new_this_week' as segment, users.user_id collate "C" as user_id
from marts.daily_kpis as built
inner join core.users as users
    on users.first_seen_on > built.day - 7 and users.first_seen_on <= built.day

union all

select ranked.day, 'high_value' as segment, ranked.user_id
from (
    select
        built.day,
        deposits.user_id,
        row_number() over by_value as position,
        count(*) over (partition by built.day) as depositors
    from marts.daily_kpis as built
    cross join lateral (
        select
            movements.user_id,
            sum(movements.amount_deposits) filter (where movements.currency = 'mxn')
                as amount_mxn,
            sum(movements.count_deposits) as count_deposits
        from marts.daily_movements as movements
        where
            movements.day > built.day - 90
            and movements.day <= built.day
            and movements.count_deposits > 0
        group by movements.user_id
    ) as deposits
    window by_value as (
        partition by built.day
        order by coalesce(deposits.amount_mxn, 0) desc, deposits.count_deposits desc, deposits.user_id
    )
) as ranked
where ranked.position <= ceil(ranked.depositors / 100.0);

-- check: reconciles_with_daily_marts
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
