-- marts.deposit_ordinals: one row per user and counted (complete) deposit, numbered in time
-- order per user (ordinal 1 = the user's first counted deposit), with the UTC day it was
-- made; from the deposit_ordinals ranges of marts.daily_user_status. "More than N counted
-- deposits on or before D" is the users whose (N+1)-th deposit is dated on or before D: the
-- index range ordinal = N+1 of deposit_ordinals_by_user, read in user_id order (the order of
-- the answer, so nothing is sorted) and filtered on its covering `day`.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.deposit_ordinals (
    ordinal bigint not null,
    day date not null,
    user_id text collate "C" not null
);

insert into marts.deposit_ordinals
with active_days as (
    select day, user_id, deposit_ordinals
    from marts.daily_user_status
    where day >= %(window_start)s and day < %(window_end)s and count_deposits > 0
),

final as (
    select
        ordinals.ordinal,
        active_days.day,
        active_days.user_id
    from active_days
    cross join lateral generate_series(
        lower(active_days.deposit_ordinals), upper(active_days.deposit_ordinals) - 1
    ) as ordinals (ordinal)
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
-- A user has one k-th deposit: (ordinal, user_id) is unique, `day` rides along for Q2/Q3.
drop index if exists marts.deposit_ordinals_key;  -- the earlier key index, (ordinal, day, user_id)
create unique index if not exists deposit_ordinals_by_user
    on marts.deposit_ordinals (ordinal, user_id) include (day);
-- Each user's deposits in ordinal order, merged against core.users' key by Q2's SQL and the
-- deposit history of Q2/Q3 (sql/questions/deposit_history.sql).
drop index if exists marts.deposit_ordinals_first;  -- the earlier partial index of ordinal 1
create unique index if not exists deposit_ordinals_of_user
    on marts.deposit_ordinals (user_id, ordinal) include (day);
create index if not exists deposit_ordinals_by_day on marts.deposit_ordinals (day);

-- check: reconciles_with_core
-- marts.deposit_ordinals agrees with core.transactions over the window
-- [window_start, window_end): each day has one row per counted deposit, and each user's rows
-- are numbered on from the user's last ordinal before the window (0 if none): from it + 1 to
-- it + the user's counted deposits of the window in core.transactions, one per deposit. The
-- ordinals before the window were checked when their own days were built, so the proof is an
-- induction over the days built: a backfill from the first day (nothing before it) numbers
-- every deposit from core alone, and a later day costs two index probes per user depositing
-- in it, not a read of the user's deposit history. Days before the window left unbuilt show
-- as a counted deposit in core between the user's last ordinal and the window.
with deposits as (
    select user_id, occurred_on as day
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and kind = 'deposit' and is_complete
),

facts_by_day as (
    select day, count(*) as deposits
    from deposits
    group by day
),

history as (
    -- what precedes the window: a backfill from the first day probes nothing
    select
        (select min(day) from marts.deposit_ordinals) < %(window_start)s as has_ordinals,
        (select min(occurred_on) from core.transactions) < %(window_start)s as has_facts
),

window_counts as not materialized (
    -- inlined in both branches below: only the branch that runs aggregates
    select user_id, count(*) as deposits
    from deposits
    group by user_id
),

facts_by_user as (
    -- nothing precedes the window (a backfill from the first day): every user starts at 1
    select
        user_id,
        deposits,
        1 as first_ordinal,
        deposits as last_ordinal,
        false as deposited_since_last_ordinal
    from window_counts
    where not (select has_ordinals or has_facts from history)
    union all
    select
        window_counts.user_id,
        window_counts.deposits,
        coalesce(before.ordinal, 0) + 1 as first_ordinal,
        coalesce(before.ordinal, 0) + window_counts.deposits as last_ordinal,
        exists (
            -- a counted deposit after that ordinal's day and before the window (days not
            -- built): a range of transactions_by_user, empty when history is built
            select
            from core.transactions as transactions
            where
                (select has_facts from history)
                and transactions.user_id = window_counts.user_id
                and transactions.kind = 'deposit'
                and transactions.occurred_at >= coalesce(
                    (before.day + 1)::timestamp at time zone 'UTC', '-infinity'
                )
                and transactions.occurred_at < %(window_start)s::timestamp at time zone 'UTC'
                and transactions.is_complete
        ) as deposited_since_last_ordinal
    from window_counts
    left join lateral (
        -- the user's last ordinal before the window: deposit_ordinals_of_user read backwards
        select ordinals.ordinal, ordinals.day
        from marts.deposit_ordinals as ordinals
        where
            (select has_ordinals from history)
            and ordinals.user_id = window_counts.user_id
            and ordinals.day < %(window_start)s
        order by ordinals.ordinal desc
        limit 1
    ) as before on true
    where (select has_ordinals or has_facts from history)
),

mart as (
    select *
    from marts.deposit_ordinals
    where day >= %(window_start)s and day < %(window_end)s
),

mart_by_day as (
    select day, count(*) as deposits from mart group by day
),

mart_by_user as (
    select
        user_id,
        count(*) as deposits,
        min(ordinal) as first_ordinal,
        max(ordinal) as last_ordinal
    from mart
    group by user_id
),

final as materialized (
    select
        (
            select count(*)
            from facts_by_day
            full join mart_by_day on mart_by_day.day = facts_by_day.day
            where facts_by_day.deposits is distinct from mart_by_day.deposits
        ) as mismatched_days,
        (
            select count(*)
            from facts_by_user
            full join mart_by_user on mart_by_user.user_id = facts_by_user.user_id
            where
                (facts_by_user.deposits, facts_by_user.first_ordinal, facts_by_user.last_ordinal)
                is distinct from
                (mart_by_user.deposits, mart_by_user.first_ordinal, mart_by_user.last_ordinal)
                or facts_by_user.deposited_since_last_ordinal
        ) as mismatched_users
)

select *, mismatched_days = 0 and mismatched_users = 0 as passed from final
