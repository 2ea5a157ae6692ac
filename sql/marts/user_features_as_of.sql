-- marts.user_features_as_of (view mart): the features of marts.daily_user_features as of the
-- end of a built day D, computed when read: marts.user_currency_features_as_of per account
-- (user and currency) and marts.user_features_as_of per user seen by D, with totals over
-- currencies, logins, first-seen day, days since, level and jurisdiction. Views of their own,
-- apart from daily_user_features' build, which reads only the daily movements: the features
-- are built beside the other marts, and these views wait for the marts they read.

-- Each account's (user and currency with a counted movement) features as of the end of D:
-- filter on day, a built day, and on user_id or currency.
create or replace view marts.user_currency_features_as_of as
select
    built.day,
    features.user_id,
    features.currency,
    -- counted deposits
    features.count_deposits_7d,
    features.amount_deposits_7d,
    features.count_deposits_30d,
    features.amount_deposits_30d,
    features.count_deposits_90d,
    features.amount_deposits_90d,
    features.count_deposits_to_date,
    features.amount_deposits_to_date,
    -- counted withdrawals
    features.count_withdrawals_7d,
    features.amount_withdrawals_7d,
    features.count_withdrawals_30d,
    features.amount_withdrawals_30d,
    features.count_withdrawals_90d,
    features.amount_withdrawals_90d,
    features.count_withdrawals_to_date,
    features.amount_withdrawals_to_date,
    -- recency (null: never)
    features.last_deposit_on,
    built.day - features.last_deposit_on as days_since_last_deposit,
    features.last_withdrawal_on,
    built.day - features.last_withdrawal_on as days_since_last_withdrawal
from marts.daily_kpis as built
cross join lateral (
    select distinct on (stored.user_id, stored.currency) stored.*
    from marts.daily_user_features as stored
    where stored.day <= built.day
    -- the key index read backwards: each account's latest row first, no sort (ordered by the
    -- day alone descending, every row before the day was sorted first: 40 s for five rows at
    -- scale 100). The planner reads it so once effective_cache_size says the mart is cached.
    order by stored.user_id desc, stored.currency desc, stored.day desc
) as features;

-- Each user's features as of the end of D, for every user seen (first transaction or event)
-- on or before D: filter on day, a built day. Counts add up the user's currencies (amounts do
-- not: a sum across currencies means nothing; they are per currency above). Logins come from
-- marts.daily_logins when asked: one index probe for the last login, one range of the last
-- 30 days for users with a login in them (storing login windows would add three change days
-- per login day, and logins are most of the activity).
create or replace view marts.user_features_as_of as
select
    built.day,
    users.user_id collate "C" as user_id,
    users.first_seen_on,
    -- counted deposits, all currencies
    coalesce(movements.count_deposits_7d, 0) as count_deposits_7d,
    coalesce(movements.count_deposits_30d, 0) as count_deposits_30d,
    coalesce(movements.count_deposits_90d, 0) as count_deposits_90d,
    coalesce(movements.count_deposits_to_date, 0) as count_deposits_to_date,
    -- counted withdrawals, all currencies
    coalesce(movements.count_withdrawals_7d, 0) as count_withdrawals_7d,
    coalesce(movements.count_withdrawals_30d, 0) as count_withdrawals_30d,
    coalesce(movements.count_withdrawals_90d, 0) as count_withdrawals_90d,
    coalesce(movements.count_withdrawals_to_date, 0) as count_withdrawals_to_date,
    -- logins
    coalesce(logins.count_logins_7d, 0) as count_logins_7d,
    coalesce(logins.count_logins_30d, 0) as count_logins_30d,
    -- recency (null: never)
    movements.last_deposit_on,
    built.day - movements.last_deposit_on as days_since_last_deposit,
    last_login.day as last_login_on,
    built.day - last_login.day as days_since_last_login,
    -- level as of the end of the day (null: none yet)
    levels.level,
    levels.jurisdiction
from marts.daily_kpis as built
inner join core.users as users on users.first_seen_on <= built.day
left join lateral (
    select
        sum(latest.count_deposits_7d) as count_deposits_7d,
        sum(latest.count_deposits_30d) as count_deposits_30d,
        sum(latest.count_deposits_90d) as count_deposits_90d,
        sum(latest.count_deposits_to_date) as count_deposits_to_date,
        sum(latest.count_withdrawals_7d) as count_withdrawals_7d,
        sum(latest.count_withdrawals_30d) as count_withdrawals_30d,
        sum(latest.count_withdrawals_90d) as count_withdrawals_90d,
        sum(latest.count_withdrawals_to_date) as count_withdrawals_to_date,
        max(latest.last_deposit_on) as last_deposit_on
    from (
        select distinct on (stored.currency) stored.*
        from marts.daily_user_features as stored
        where stored.user_id = users.user_id collate "C" and stored.day <= built.day
        -- the key index read backwards: the latest row of each currency first, no sort
        order by stored.currency desc, stored.day desc
    ) as latest
) as movements on true
left join lateral (
    select latest.day
    from marts.daily_logins as latest
    where latest.user_id = users.user_id collate "C" and latest.day <= built.day
    order by latest.day desc
    limit 1
) as last_login on true
left join lateral (
    select
        sum(recent.count_logins) filter (where recent.day > built.day - 7) as count_logins_7d,
        sum(recent.count_logins) as count_logins_30d
    from marts.daily_logins as recent
    where
        last_login.day > built.day - 30
        and recent.user_id = users.user_id collate "C"
        and recent.day > built.day - 30
        and recent.day <= built.day
) as logins on true
left join lateral (
    -- compared in the collation of core.user_levels' ids and of its index (core.users' are
    -- "C"): one probe of user_levels_as_of, where mixed collations read every level
    select user_levels.level, user_levels.jurisdiction
    from core.user_levels
    where
        user_levels.user_id = users.user_id collate "default"
        and user_levels.valid_from < (built.day + 1)::timestamp at time zone 'UTC'
    order by user_levels.valid_from desc, user_levels.rank
    limit 1
) as levels on true;
