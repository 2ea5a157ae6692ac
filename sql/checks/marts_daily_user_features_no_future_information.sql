-- marts.daily_user_features holds nothing from after its days: on every row of the
-- window [window_start, window_end) the last deposit and withdrawal days are on or before the
-- row's day, and no row precedes the user's first-seen day. (That the counts and amounts read
-- only movements dated on or before the day is reconciles_with_daily_marts.)
with final as (
    select count(*) as rows_dated_after_their_day
    from marts.daily_user_features as features
    left join core.users as users on users.user_id = features.user_id
    where
        features.day >= %(window_start)s
        and features.day < %(window_end)s
        and (
            features.last_deposit_on > features.day
            or features.last_withdrawal_on > features.day
            or users.first_seen_on is null
            or users.first_seen_on > features.day
        )
)

select *, rows_dated_after_their_day = 0 as passed from final
