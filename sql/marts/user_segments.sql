-- marts.user_segments (view): one row per built UTC day, segment and user in it, from the
-- features as of the end of the day (marts.user_features_as_of and, for mxn amounts, the
-- user's mxn row of marts.daily_user_features). Computed when read: filter on day (and
-- segment) and only that day is evaluated, so storage does not grow with users x days.
-- Population: users seen (first transaction or event) on or before the day.
--   never_deposited  no counted deposit on or before the day
--   dormant          first seen 30 days or more before the day, no login in the 30 days
--                    ending with it
--   new_this_week    first seen in the 7 days ending with the day
--   high_value       the top 1 % (rounded up) of the users with a counted deposit in the 90
--                    days ending with the day, ranked by their counted mxn deposit amount in
--                    those days (no mxn deposit: 0), then by their counted deposits in any
--                    currency, then by user_id
-- No CTEs: each branch must see the day filter (a CTE read by several branches would be
-- computed for every built day).
create schema if not exists marts;

create or replace view marts.user_segments as
select features.day, 'never_deposited' as segment, features.user_id
from marts.user_features_as_of as features
where features.count_deposits_to_date = 0

union all

select features.day, 'dormant' as segment, features.user_id
from marts.user_features_as_of as features
where features.first_seen_on <= features.day - 30 and features.count_logins_30d = 0

union all

select features.day, 'new_this_week' as segment, features.user_id
from marts.user_features_as_of as features
where features.first_seen_on > features.day - 7

union all

select ranked.day, 'high_value' as segment, ranked.user_id
from (
    select
        features.day,
        features.user_id,
        row_number() over by_value as position,
        count(*) over (partition by features.day) as depositors
    from marts.user_features_as_of as features
    left join lateral (
        -- the user's mxn account as of the day (as in marts.user_currency_features_as_of)
        select stored.amount_deposits_90d
        from marts.daily_user_features as stored
        where
            stored.user_id = features.user_id
            and stored.currency = 'mxn'
            and stored.day <= features.day
        order by stored.day desc
        limit 1
    ) as mxn on true
    where features.count_deposits_90d > 0
    window by_value as (
        partition by features.day
        order by
            coalesce(mxn.amount_deposits_90d, 0) desc,
            features.count_deposits_90d desc,
            features.user_id
    )
) as ranked
where ranked.position <= ceil(ranked.depositors / 100.0);
