-- marts.daily_user_status: one row per user and UTC day on which the user is ACTIVE, i.e. has
-- at least one counted (complete) deposit or withdrawal (what Q1 counts), from
-- marts.daily_movements. Inactive days are not stored: storage grows with activity, not with
-- users x days. deposit_ordinals holds the ordinals of the user's counted deposits made that
-- day ([6,8) = the 6th and 7th); marts.deposit_ordinals lists them one per row.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction, carrying the
-- cumulative counts from each user's last row before the window.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.daily_user_status (
    day date not null,
    user_id text collate "C" not null,
    status text not null check (status = 'ACTIVE'),
    -- the day's counted movements, all currencies
    count_deposits integer not null,
    count_withdrawals integer not null,
    count_currencies integer not null,
    -- cumulative to the end of the day
    count_deposits_to_date bigint not null,
    count_withdrawals_to_date bigint not null,
    deposit_ordinals int8range not null
);

insert into marts.daily_user_status
with days as (
    select
        day,
        user_id,
        sum(count_deposits) as count_deposits,
        sum(count_withdrawals) as count_withdrawals,
        count(*) as count_currencies
    from marts.daily_movements
    where
        day >= %(window_start)s and day < %(window_end)s
        and (count_deposits > 0 or count_withdrawals > 0)
    group by day, user_id
),

users as (
    -- no row precedes the window (a full rebuild): nothing to look up, nothing to sort
    select distinct user_id from days
    where exists (select from marts.daily_user_status where day < %(window_start)s)
),

opening as (
    select
        users.user_id,
        previous.count_deposits_to_date,
        previous.count_withdrawals_to_date
    from users
    cross join lateral (
        select status.count_deposits_to_date, status.count_withdrawals_to_date
        from marts.daily_user_status as status
        where status.user_id = users.user_id and status.day < %(window_start)s
        order by status.day desc
        limit 1
    ) as previous
),

cumulative as (
    select
        days.*,
        coalesce(opening.count_deposits_to_date, 0)
        + (sum(days.count_deposits) over by_user)::bigint as count_deposits_to_date,
        coalesce(opening.count_withdrawals_to_date, 0)
        + (sum(days.count_withdrawals) over by_user)::bigint as count_withdrawals_to_date
    from days
    left join opening on opening.user_id = days.user_id
    window by_user as (partition by days.user_id order by days.day)
),

final as (
    select
        day,
        user_id,
        'ACTIVE' as status,
        -- the day's counted movements, all currencies
        count_deposits,
        count_withdrawals,
        count_currencies,
        -- cumulative to the end of the day
        count_deposits_to_date,
        count_withdrawals_to_date,
        int8range(count_deposits_to_date - count_deposits + 1, count_deposits_to_date + 1)
            as deposit_ordinals
    from cumulative
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_user_status_key
    on marts.daily_user_status (user_id, day);
create index if not exists daily_user_status_by_day on marts.daily_user_status (day);

-- check: reconciles_with_core
-- marts.daily_user_status agrees with core.transactions over the window
-- [window_start, window_end): per day, one ACTIVE row per user with a counted (complete)
-- deposit or withdrawal, with the day's counts; per user, each row adds its own counts to the
-- previous row's counts to date, the first one to the user's last row before the window (0 if
-- none), deposit_ordinals matches them, and the counts at the end of the window are those of
-- that row plus the user's counted movements of the window in core.transactions. The row
-- before the window was checked when its own day was built, so the proof is an induction over
-- the days built: a backfill from the first day (nothing before it) proves every count from
-- core alone, and a later day costs a few index probes per user active in it, not a read of
-- the user's history. Days before the window left unbuilt show as a counted movement in core
-- between the user's last row and the window.
with counted as (
    select user_id, occurred_on as day, kind
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and is_complete
),

facts_by_day as (
    select
        day,
        count(distinct user_id) as users,
        count(*) filter (where kind = 'deposit') as deposits,
        count(*) filter (where kind = 'withdrawal') as withdrawals
    from counted
    group by day
),

history as (
    -- what precedes the window: a backfill from the first day probes nothing
    select
        (select min(day) from marts.daily_user_status) < %(window_start)s as has_rows,
        (select min(occurred_on) from core.transactions) < %(window_start)s as has_facts
),

window_counts as not materialized (
    -- inlined in both branches below: only the branch that runs aggregates
    select
        user_id,
        count(*) filter (where kind = 'deposit') as deposits,
        count(*) filter (where kind = 'withdrawal') as withdrawals
    from counted
    group by user_id
),

facts_by_user as (
    -- nothing precedes the window (a backfill from the first day): every user starts at 0
    select
        user_id,
        0 as deposits_before,
        deposits as deposits_to_end,
        0 as withdrawals_before,
        withdrawals as withdrawals_to_end,
        false as moved_since_last_row
    from window_counts
    where not (select has_rows or has_facts from history)
    union all
    select
        window_counts.user_id,
        coalesce(before.count_deposits_to_date, 0) as deposits_before,
        coalesce(before.count_deposits_to_date, 0) + window_counts.deposits as deposits_to_end,
        coalesce(before.count_withdrawals_to_date, 0) as withdrawals_before,
        coalesce(before.count_withdrawals_to_date, 0) + window_counts.withdrawals
            as withdrawals_to_end,
        unbuilt.moved as moved_since_last_row
    from window_counts
    left join lateral (
        -- the user's last row before the window: one probe of daily_user_status_key
        select status.day, status.count_deposits_to_date, status.count_withdrawals_to_date
        from marts.daily_user_status as status
        where
            (select has_rows from history)
            and status.user_id = window_counts.user_id
            and status.day < %(window_start)s
        order by status.day desc
        limit 1
    ) as before on true
    cross join lateral (
        -- a counted movement after that row's day and before the window (days not built): a
        -- range of transactions_by_user per kind, empty when history is built
        select count(*) > 0 as moved
        from (values ('deposit'), ('withdrawal')) as kinds (kind)
        cross join lateral (
            select
            from core.transactions as transactions
            where
                (select has_facts from history)
                and transactions.user_id = window_counts.user_id
                and transactions.kind = kinds.kind
                and transactions.occurred_at >= coalesce(
                    (before.day + 1)::timestamp at time zone 'UTC', '-infinity'
                )
                and transactions.occurred_at < %(window_start)s::timestamp at time zone 'UTC'
                and transactions.is_complete
            limit 1
        ) as transactions
    ) as unbuilt
    where (select has_rows or has_facts from history)
),

mart as (
    select
        *,
        lag(count_deposits_to_date) over by_user as previous_deposits_to_date,
        lag(count_withdrawals_to_date) over by_user as previous_withdrawals_to_date
    from marts.daily_user_status
    where day >= %(window_start)s and day < %(window_end)s
    window by_user as (partition by user_id order by day)
),

mart_by_day as (
    select
        day,
        count(*) as users,
        sum(count_deposits) as deposits,
        sum(count_withdrawals) as withdrawals
    from mart
    group by day
),

mart_by_user as (
    select
        user_id,
        min(count_deposits_to_date - count_deposits) as deposits_before,
        max(count_deposits_to_date) as deposits_to_end,
        min(count_withdrawals_to_date - count_withdrawals) as withdrawals_before,
        max(count_withdrawals_to_date) as withdrawals_to_end,
        count(*) filter (
            where
                status <> 'ACTIVE'
                or count_deposits + count_withdrawals = 0
                or deposit_ordinals <> int8range(
                    count_deposits_to_date - count_deposits + 1, count_deposits_to_date + 1
                )
                or previous_deposits_to_date + count_deposits <> count_deposits_to_date
                or previous_withdrawals_to_date + count_withdrawals
                <> count_withdrawals_to_date
        ) as broken_rows
    from mart
    group by user_id
),

final as materialized (
    select
        (select count(*) from mart) as active_user_days,
        (
            select count(*)
            from facts_by_day
            full join mart_by_day on mart_by_day.day = facts_by_day.day
            where
                (facts_by_day.users, facts_by_day.deposits, facts_by_day.withdrawals)
                is distinct from (mart_by_day.users, mart_by_day.deposits, mart_by_day.withdrawals)
        ) as mismatched_days,
        (
            select count(*)
            from facts_by_user
            full join mart_by_user on mart_by_user.user_id = facts_by_user.user_id
            where
                (
                    facts_by_user.deposits_before, facts_by_user.deposits_to_end,
                    facts_by_user.withdrawals_before, facts_by_user.withdrawals_to_end
                ) is distinct from (
                    mart_by_user.deposits_before, mart_by_user.deposits_to_end,
                    mart_by_user.withdrawals_before, mart_by_user.withdrawals_to_end
                )
                or mart_by_user.broken_rows > 0
                or facts_by_user.moved_since_last_row
        ) as wrong_users
)

select *, mismatched_days = 0 and wrong_users = 0 as passed from final
