-- marts.daily_user_features: one row per user, currency and UTC day on which one of the
-- user's features in that currency changed, from marts.daily_movements: counts and exact
-- amounts of counted deposits and withdrawals over the 7, 30 and 90 days ending with the day
-- and to date, and the last day with a counted deposit and withdrawal. A movement of day d
-- enters every window on d and leaves the 7-, 30- and 90-day windows on d + 7, d + 30 and
-- d + 90: only those days change a row, so storage grows with activity, not with users x
-- days, and the features as of any day D are each account's row with the latest day on or
-- before D. The view mart user_features_as_of (sql/marts/user_features_as_of.sql) gives them
-- for a day, per account and per user.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction: the window's
-- changes come from the movements of the window and of the window 7, 30 and 90 days earlier,
-- and each account continues from its last row before the window. Nothing dated after a row's
-- day is read.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.daily_user_features (
    day date not null,
    user_id text collate "C" not null,
    currency text collate "C" not null,
    -- counted deposits
    count_deposits_7d bigint not null,
    amount_deposits_7d numeric not null,
    count_deposits_30d bigint not null,
    amount_deposits_30d numeric not null,
    count_deposits_90d bigint not null,
    amount_deposits_90d numeric not null,
    count_deposits_to_date bigint not null,
    amount_deposits_to_date numeric not null,
    -- counted withdrawals
    count_withdrawals_7d bigint not null,
    amount_withdrawals_7d numeric not null,
    count_withdrawals_30d bigint not null,
    amount_withdrawals_30d numeric not null,
    count_withdrawals_90d bigint not null,
    amount_withdrawals_90d numeric not null,
    count_withdrawals_to_date bigint not null,
    amount_withdrawals_to_date numeric not null,
    -- last days, on or before the row's day
    last_deposit_on date,
    last_withdrawal_on date
);

insert into marts.daily_user_features
with shifts (shift, in_7d, in_30d, in_90d, in_all) as (
    -- how a movement of day d changes each window on day d + shift
    values (0, 1, 1, 1, 1), (7, -1, 0, 0, 0), (30, 0, -1, 0, 0), (90, 0, 0, -1, 0)
),

movements as (
    -- the days whose movements change a window's row: the window shifted back by each of
    -- `shifts`, written out because the planner makes index ranges of constants only (four
    -- ranges of a short window; all 90 days before one day were a third of it)
    select day, user_id, currency, count_deposits, amount_deposits, count_withdrawals,
        amount_withdrawals
    from marts.daily_movements
    where
        (
            day >= %(window_start)s and day < %(window_end)s
            or day >= %(window_start)s::date - 7 and day < %(window_end)s::date - 7
            or day >= %(window_start)s::date - 30 and day < %(window_end)s::date - 30
            or day >= %(window_start)s::date - 90 and day < %(window_end)s::date - 90
        )
        and (count_deposits > 0 or count_withdrawals > 0)
),

deltas as (
    -- in account and day order, the window's: each account's last row before the window is
    -- then looked up in the order of the mart's key (in the deltas' own order, one day's
    -- lookups cost a sixth more at scale 100)
    select
        movements.user_id,
        movements.currency,
        movements.day,
        movements.day + shifts.shift as changed_on,
        shifts.*,
        movements.count_deposits,
        movements.count_withdrawals,
        -- what the delta adds to the amounts of the windows it changes: a numeric
        -- multiplication per window and row (amount x in_7d) cost a tenth of the insert
        case
            when shifts.shift = 0 then movements.amount_deposits else -movements.amount_deposits
        end as amount_deposits_delta,
        case
            when shifts.shift = 0 then movements.amount_withdrawals
            else -movements.amount_withdrawals
        end as amount_withdrawals_delta
    from movements
    cross join shifts
    where
        movements.day + shifts.shift >= %(window_start)s
        and movements.day + shifts.shift < %(window_end)s
    order by movements.user_id, movements.currency, changed_on
),

history as (
    -- whether any row precedes the window: a full rebuild looks nothing up
    select exists (
        select from marts.daily_user_features where day < %(window_start)s
    ) as has_rows
),

running as (
    -- Each account's deltas in day order, added up as they come: a day's sums take in all of
    -- that day's deltas (the window's default frame ends with the current row's peers), so the
    -- deltas of one day give equal rows, of which `final` keeps one. Summed straight from the
    -- deltas, not from a grouping of them by day first: a change day has one delta or few (31.8 M
    -- deltas for 31.3 M rows at scale 100), and the grouping cost a quarter of the insert.
    select
        deltas.changed_on as day,
        deltas.user_id,
        deltas.currency,
        -- counted deposits
        sum(deltas.count_deposits * deltas.in_7d) over by_account as count_deposits_7d,
        coalesce(
            sum(deltas.amount_deposits_delta) filter (where deltas.in_7d <> 0) over by_account,
            0
        ) as amount_deposits_7d,
        sum(deltas.count_deposits * deltas.in_30d) over by_account as count_deposits_30d,
        coalesce(
            sum(deltas.amount_deposits_delta) filter (where deltas.in_30d <> 0) over by_account,
            0
        ) as amount_deposits_30d,
        sum(deltas.count_deposits * deltas.in_90d) over by_account as count_deposits_90d,
        coalesce(
            sum(deltas.amount_deposits_delta) filter (where deltas.in_90d <> 0) over by_account,
            0
        ) as amount_deposits_90d,
        sum(deltas.count_deposits * deltas.in_all) over by_account as count_deposits_to_date,
        coalesce(
            sum(deltas.amount_deposits_delta) filter (where deltas.in_all <> 0) over by_account,
            0
        ) as amount_deposits_to_date,
        -- counted withdrawals
        sum(deltas.count_withdrawals * deltas.in_7d) over by_account as count_withdrawals_7d,
        coalesce(
            sum(deltas.amount_withdrawals_delta) filter (where deltas.in_7d <> 0) over by_account,
            0
        ) as amount_withdrawals_7d,
        sum(deltas.count_withdrawals * deltas.in_30d) over by_account as count_withdrawals_30d,
        coalesce(
            sum(deltas.amount_withdrawals_delta) filter (where deltas.in_30d <> 0) over by_account,
            0
        ) as amount_withdrawals_30d,
        sum(deltas.count_withdrawals * deltas.in_90d) over by_account as count_withdrawals_90d,
        coalesce(
            sum(deltas.amount_withdrawals_delta) filter (where deltas.in_90d <> 0) over by_account,
            0
        ) as amount_withdrawals_90d,
        sum(deltas.count_withdrawals * deltas.in_all) over by_account as count_withdrawals_to_date,
        coalesce(
            sum(deltas.amount_withdrawals_delta) filter (where deltas.in_all <> 0) over by_account,
            0
        ) as amount_withdrawals_to_date,
        -- last days
        max(deltas.day) filter (
            where deltas.shift = 0 and deltas.count_deposits > 0
        ) over by_account as last_deposit_on,
        max(deltas.day) filter (
            where deltas.shift = 0 and deltas.count_withdrawals > 0
        ) over by_account as last_withdrawal_on,
        opening
    from deltas
    -- Each delta looks up its account's last row before the window (one probe of
    -- daily_user_features_key), only when a row precedes it: `deltas` is then read once, in
    -- the order of the window, and a full rebuild looks nothing up.
    left join lateral (
        select *
        from (
            select previous.*
            from marts.daily_user_features as previous
            where
                previous.currency = deltas.currency
                and previous.user_id = deltas.user_id
                and previous.day < %(window_start)s
            order by previous.day desc
            limit 1
        ) as last_row
        where (select has_rows from history)
    ) as opening on true
    window by_account as (partition by deltas.user_id, deltas.currency order by deltas.changed_on)
),

final as (
    -- one row per account and change day (its deltas' rows are equal), continued from the
    -- account's last row before the window where there is one: only then is anything added (an
    -- addition per row and column cost a fourteenth of a full rebuild, which has no such row)
    select distinct on (user_id, currency, day)
        day,
        user_id,
        currency,
        -- counted deposits
        coalesce(
            (opening).count_deposits_7d + count_deposits_7d, count_deposits_7d
        ) as count_deposits_7d,
        coalesce(
            (opening).amount_deposits_7d + amount_deposits_7d, amount_deposits_7d
        ) as amount_deposits_7d,
        coalesce(
            (opening).count_deposits_30d + count_deposits_30d, count_deposits_30d
        ) as count_deposits_30d,
        coalesce(
            (opening).amount_deposits_30d + amount_deposits_30d, amount_deposits_30d
        ) as amount_deposits_30d,
        coalesce(
            (opening).count_deposits_90d + count_deposits_90d, count_deposits_90d
        ) as count_deposits_90d,
        coalesce(
            (opening).amount_deposits_90d + amount_deposits_90d, amount_deposits_90d
        ) as amount_deposits_90d,
        coalesce(
            (opening).count_deposits_to_date + count_deposits_to_date, count_deposits_to_date
        ) as count_deposits_to_date,
        coalesce(
            (opening).amount_deposits_to_date + amount_deposits_to_date, amount_deposits_to_date
        ) as amount_deposits_to_date,
        -- counted withdrawals
        coalesce(
            (opening).count_withdrawals_7d + count_withdrawals_7d, count_withdrawals_7d
        ) as count_withdrawals_7d,
        coalesce(
            (opening).amount_withdrawals_7d + amount_withdrawals_7d, amount_withdrawals_7d
        ) as amount_withdrawals_7d,
        coalesce(
            (opening).count_withdrawals_30d + count_withdrawals_30d, count_withdrawals_30d
        ) as count_withdrawals_30d,
        coalesce(
            (opening).amount_withdrawals_30d + amount_withdrawals_30d, amount_withdrawals_30d
        ) as amount_withdrawals_30d,
        coalesce(
            (opening).count_withdrawals_90d + count_withdrawals_90d, count_withdrawals_90d
        ) as count_withdrawals_90d,
        coalesce(
            (opening).amount_withdrawals_90d + amount_withdrawals_90d, amount_withdrawals_90d
        ) as amount_withdrawals_90d,
        coalesce(
            (opening).count_withdrawals_to_date + count_withdrawals_to_date,
            count_withdrawals_to_date
        ) as count_withdrawals_to_date,
        coalesce(
            (opening).amount_withdrawals_to_date + amount_withdrawals_to_date,
            amount_withdrawals_to_date
        ) as amount_withdrawals_to_date,
        -- last days
        coalesce(last_deposit_on, (opening).last_deposit_on) as last_deposit_on,
        coalesce(last_withdrawal_on, (opening).last_withdrawal_on) as last_withdrawal_on
    from running
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
-- Led by user: a user's accounts as of D are one index range.
create unique index if not exists daily_user_features_key
    on marts.daily_user_features (user_id, currency, day);
create index if not exists daily_user_features_by_day on marts.daily_user_features (day);

-- check: no_future_information
-- marts.daily_user_features holds nothing from after its days: on every row of the
-- window [window_start, window_end) the last deposit and withdrawal days are on or before the
-- row's day, and no row precedes the user's first-seen day. (That the counts and amounts read
-- only movements dated on or before the day is reconciles_with_daily_marts.) The first-seen
-- day is one probe of core.users' key per user of the window, not a read of every user.
with window_users as (
    select
        user_id,
        count(*) filter (
            where last_deposit_on > day or last_withdrawal_on > day
        ) as rows_dated_after_their_day,
        min(day) as first_row_on
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
    group by user_id
),

final as (
    select
        coalesce(sum(rows_dated_after_their_day), 0) as rows_dated_after_their_day,
        count(*) filter (
            where coalesce(
                (
                    select users.first_seen_on
                    from core.users as users
                    where users.user_id = window_users.user_id
                ) > first_row_on,
                true
            )
        ) as users_with_rows_before_first_seen
    from window_users
)

select
    *,
    rows_dated_after_their_day = 0 and users_with_rows_before_first_seen = 0 as passed
from final

-- check: reconciles_with_daily_marts
-- marts.daily_user_features reconciles with marts.daily_movements on every row of the
-- window [window_start, window_end): each 7-, 30- and 90-day window's counted deposits and
-- withdrawals (count and exact amount) equal the account's daily rows dated in the 7, 30 or
-- 90 days ending with the row's day, recomputed from the daily rows of [window_start - 90,
-- window_end); to date they equal the account's last row before the window (0 if none) plus
-- its daily rows from window_start to the row's day, and the last days are the latest such
-- rows, else that earlier row's. Computed independently of the build (running frames over the
-- daily rows, not added-up changes); a row missing where a movement enters or leaves a window
-- is counted too. The row before the window was checked when its own day was built, so "to
-- date" is proven by induction over the days built: a backfill from the first day (nothing
-- before it) proves every row from the daily rows alone, and a later day reads the window's
-- 90 days of movements and one index probe per account, not the account's history. Days
-- before the window left unbuilt show as a counted movement between the account's last row
-- and the window (in the movements read, or before them in core.transactions).
-- It reads the users from first_user up to end_user (null: no end), each user's accounts
-- apart from any other's: ranges of users are checked side by side (Check.by_users).
with window_accounts as (
    select distinct user_id, currency
    from marts.daily_user_features
    where
        day >= %(window_start)s and day < %(window_end)s
        and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
),

history as (
    -- what precedes the window: a backfill from the first day probes nothing
    select
        (select min(day) from marts.daily_user_features) < %(window_start)s as has_rows,
        (select min(occurred_on) from core.transactions) < %(window_start)s as has_facts
),

openings as (
    -- each account's last row before the window (one probe of daily_user_features_key), its
    -- values to date checked when its own day was built; and, for a row older than the 90 days
    -- of movements read below, whether a counted movement falls after its day and before those
    -- 90 days (days not built): a range of transactions_by_user per kind, empty when the
    -- history is built
    select
        window_accounts.user_id,
        window_accounts.currency,
        before.*,
        -- only where a gap can be: `case` keeps the probes from running on every account
        case
            when
                (select has_facts from history)
                and (before.day is null or before.day < %(window_start)s::date - 91)
                then exists (
                    select
                    from (values ('deposit'), ('withdrawal')) as kinds (kind)
                    cross join lateral (
                        select
                        from core.transactions as transactions
                        where
                            transactions.user_id = window_accounts.user_id
                            and transactions.kind = kinds.kind
                            and transactions.occurred_at >= coalesce(
                                (before.day + 1)::timestamp at time zone 'UTC', '-infinity'
                            )
                            and transactions.occurred_at
                            < (%(window_start)s::date - 90)::timestamp at time zone 'UTC'
                            and transactions.currency = window_accounts.currency
                            and transactions.is_complete
                        limit 1
                    ) as transactions
                )
            else false
        end as moved
    from window_accounts
    left join lateral (
        select
            features.day,
            features.count_deposits_to_date, features.amount_deposits_to_date,
            features.count_withdrawals_to_date, features.amount_withdrawals_to_date,
            features.last_deposit_on, features.last_withdrawal_on
        from marts.daily_user_features as features
        where
            (select has_rows from history)
            and features.user_id = window_accounts.user_id
            and features.currency = window_accounts.currency
            and features.day < %(window_start)s
        order by features.day desc
        limit 1
    ) as before on true
),

movements as (
    select
        movements.user_id, movements.currency, movements.day, movements.count_deposits,
        movements.amount_deposits, movements.count_withdrawals, movements.amount_withdrawals
    from marts.daily_movements as movements
    where
        movements.day >= %(window_start)s::date - 90 and movements.day < %(window_end)s
        and (movements.count_deposits > 0 or movements.count_withdrawals > 0)
        and (movements.user_id, movements.currency) in (
            select user_id, currency from window_accounts
        )
),

stream as (
    -- per account, in day order: what its 7-, 30- and 90-day frames add up (the movements of
    -- the 90 days before the window and of the window), what "to date" adds up (its row
    -- before the window, then the window's movements), and its rows of the window, as built
    -- (`built`), compared where the frames reach them: joined back to the mart instead, the
    -- rows were read twice and hashed whole (31 M at scale 100, spilling to disk). What a row
    -- does not add up is null, which the sums pass over (their empty frames are 0 below):
    -- most rows are the mart's, and adding zeros in and out of four frames was a twentieth
    -- of the check
    select
        user_id, currency, day, false as is_row,
        count_deposits, amount_deposits, count_withdrawals, amount_withdrawals,
        null as count_deposits_to_date, null as amount_deposits_to_date,
        null as count_withdrawals_to_date, null as amount_withdrawals_to_date,
        null::date as last_deposit_on, null::date as last_withdrawal_on,
        null::marts.daily_user_features as built
    from movements
    where day < %(window_start)s

    union all

    select
        user_id, currency, day, false,
        count_deposits, amount_deposits, count_withdrawals, amount_withdrawals,
        count_deposits, amount_deposits, count_withdrawals, amount_withdrawals,
        case when count_deposits > 0 then day end,
        case when count_withdrawals > 0 then day end,
        null
    from movements
    where day >= %(window_start)s

    union all

    select
        user_id, currency, day, false,
        null, null, null, null,
        count_deposits_to_date, amount_deposits_to_date,
        count_withdrawals_to_date, amount_withdrawals_to_date,
        last_deposit_on, last_withdrawal_on,
        null
    from openings
    where day is not null

    union all

    select
        user_id, currency, day, true, null, null, null, null, null, null, null, null, null, null,
        features
    from marts.daily_user_features as features
    where
        day >= %(window_start)s and day < %(window_end)s
        and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
),

expected as (
    select
        user_id,
        currency,
        day,
        is_row,
        built,
        coalesce(sum(count_deposits) over last_7, 0) as count_deposits_7d,
        coalesce(sum(amount_deposits) over last_7, 0) as amount_deposits_7d,
        coalesce(sum(count_deposits) over last_30, 0) as count_deposits_30d,
        coalesce(sum(amount_deposits) over last_30, 0) as amount_deposits_30d,
        coalesce(sum(count_deposits) over last_90, 0) as count_deposits_90d,
        coalesce(sum(amount_deposits) over last_90, 0) as amount_deposits_90d,
        coalesce(sum(count_deposits_to_date) over to_date, 0) as count_deposits_to_date,
        coalesce(sum(amount_deposits_to_date) over to_date, 0) as amount_deposits_to_date,
        coalesce(sum(count_withdrawals) over last_7, 0) as count_withdrawals_7d,
        coalesce(sum(amount_withdrawals) over last_7, 0) as amount_withdrawals_7d,
        coalesce(sum(count_withdrawals) over last_30, 0) as count_withdrawals_30d,
        coalesce(sum(amount_withdrawals) over last_30, 0) as amount_withdrawals_30d,
        coalesce(sum(count_withdrawals) over last_90, 0) as count_withdrawals_90d,
        coalesce(sum(amount_withdrawals) over last_90, 0) as amount_withdrawals_90d,
        coalesce(sum(count_withdrawals_to_date) over to_date, 0) as count_withdrawals_to_date,
        coalesce(sum(amount_withdrawals_to_date) over to_date, 0) as amount_withdrawals_to_date,
        max(last_deposit_on) over to_date as last_deposit_on,
        max(last_withdrawal_on) over to_date as last_withdrawal_on
    from stream
    -- The frames span days counted as integers (days since 1970-01-01), the same frames as
    -- intervals of days on the dates: a date frame adds an interval to a timestamp made of
    -- the date wherever the frame's start moves: a sixth of the check at scale 100.
    window
        to_date as (partition by user_id, currency order by day - date '1970-01-01'),
        last_7 as (to_date range between 6 preceding and current row),
        last_30 as (to_date range between 29 preceding and current row),
        last_90 as (to_date range between 89 preceding and current row)
),

compared as (
    select
        (
            expected.count_deposits_7d, expected.amount_deposits_7d,
            expected.count_deposits_30d, expected.amount_deposits_30d,
            expected.count_deposits_90d, expected.amount_deposits_90d,
            expected.count_deposits_to_date, expected.amount_deposits_to_date,
            expected.count_withdrawals_7d, expected.amount_withdrawals_7d,
            expected.count_withdrawals_30d, expected.amount_withdrawals_30d,
            expected.count_withdrawals_90d, expected.amount_withdrawals_90d,
            expected.count_withdrawals_to_date, expected.amount_withdrawals_to_date,
            expected.last_deposit_on, expected.last_withdrawal_on
        ) is not distinct from (
            (expected.built).count_deposits_7d, (expected.built).amount_deposits_7d,
            (expected.built).count_deposits_30d, (expected.built).amount_deposits_30d,
            (expected.built).count_deposits_90d, (expected.built).amount_deposits_90d,
            (expected.built).count_deposits_to_date,
            (expected.built).amount_deposits_to_date,
            (expected.built).count_withdrawals_7d, (expected.built).amount_withdrawals_7d,
            (expected.built).count_withdrawals_30d, (expected.built).amount_withdrawals_30d,
            (expected.built).count_withdrawals_90d, (expected.built).amount_withdrawals_90d,
            (expected.built).count_withdrawals_to_date,
            (expected.built).amount_withdrawals_to_date,
            (expected.built).last_deposit_on, (expected.built).last_withdrawal_on
        ) as matches
    from expected
    where expected.is_row
),

missing_changes as (
    -- the days in the window on which a counted movement enters or leaves a window (the
    -- movements of the window shifted by 0, 7, 30 and 90 days, an index range each, written
    -- out so that the planner sizes each range: one day's range is small) without a row of
    -- the window. An anti join against the window's rows of the range, which the mart's key
    -- gives in its order: only the change days are sorted (or, on one day, each is a probe),
    -- and only the missing ones are deduplicated. `except` sorted the mart's rows too (40 s
    -- against 15 s for a quarter of the users at scale 100).
    select distinct changes.currency, changes.user_id, changes.day
    from (
        select currency, user_id, day
        from marts.daily_movements
        where
            day >= %(window_start)s and day < %(window_end)s
            and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
            and (count_deposits > 0 or count_withdrawals > 0)

        union all

        select currency, user_id, day + 7 as day
        from marts.daily_movements
        where
            day >= %(window_start)s::date - 7 and day < %(window_end)s::date - 7
            and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
            and (count_deposits > 0 or count_withdrawals > 0)

        union all

        select currency, user_id, day + 30 as day
        from marts.daily_movements
        where
            day >= %(window_start)s::date - 30 and day < %(window_end)s::date - 30
            and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
            and (count_deposits > 0 or count_withdrawals > 0)

        union all

        select currency, user_id, day + 90 as day
        from marts.daily_movements
        where
            day >= %(window_start)s::date - 90 and day < %(window_end)s::date - 90
            and user_id >= %(first_user)s and (%(end_user)s::text is null or user_id < %(end_user)s)
            and (count_deposits > 0 or count_withdrawals > 0)
    ) as changes
    where not exists (
        select
        from marts.daily_user_features as features
        where
            features.user_id = changes.user_id
            and features.currency = changes.currency
            and features.day = changes.day
            and features.day >= %(window_start)s and features.day < %(window_end)s
            and features.user_id >= %(first_user)s
            and (%(end_user)s::text is null or features.user_id < %(end_user)s)
    )
),

final as materialized (
    select
        (select count(*) from compared) as rows_compared,
        (select count(*) from compared where not matches) as mismatched_rows,
        (select count(*) from missing_changes) as missing_change_rows,
        (
            select count(*)
            from (
                select user_id, currency from openings where moved

                union

                -- the rest of the gap: the movements read
                select openings.user_id, openings.currency
                from openings
                inner join movements
                    on
                        movements.user_id = openings.user_id
                        and movements.currency = openings.currency
                where
                    movements.day > coalesce(openings.day, '-infinity')
                    and movements.day < %(window_start)s
            ) as moved
        ) as accounts_moved_since_last_row
)

select
    *,
    mismatched_rows = 0 and missing_change_rows = 0 and accounts_moved_since_last_row = 0
        as passed
from final

-- check: windows_nest
-- marts.daily_user_features: on every row of the window [window_start, window_end)
-- the windows nest, 0 <= 7 days <= 30 days <= 90 days <= to date, for every count and amount.
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where not (
                0 <= count_deposits_7d
                and count_deposits_7d <= count_deposits_30d
                and count_deposits_30d <= count_deposits_90d
                and count_deposits_90d <= count_deposits_to_date
                and 0 <= amount_deposits_7d
                and amount_deposits_7d <= amount_deposits_30d
                and amount_deposits_30d <= amount_deposits_90d
                and amount_deposits_90d <= amount_deposits_to_date
                and 0 <= count_withdrawals_7d
                and count_withdrawals_7d <= count_withdrawals_30d
                and count_withdrawals_30d <= count_withdrawals_90d
                and count_withdrawals_90d <= count_withdrawals_to_date
                and 0 <= amount_withdrawals_7d
                and amount_withdrawals_7d <= amount_withdrawals_30d
                and amount_withdrawals_30d <= amount_withdrawals_90d
                and amount_withdrawals_90d <= amount_withdrawals_to_date
            )
        ) as rows_not_nested
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_not_nested = 0 as passed from final
