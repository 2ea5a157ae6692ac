-- marts.deposit_ordinals: one row per user and counted (complete) deposit, numbered in time
-- order per user (ordinal 1 = the user's first counted deposit), with the UTC day it was
-- made; from the deposit_ordinals ranges of marts.daily_user_status. "More than N counted
-- deposits on or before D" is the users whose (N+1)-th deposit is dated on or before D: the
-- index range ordinal = N+1 of deposit_ordinals_by_user, read in user_id order (the order of
-- the answer, so nothing is sorted) and filtered on its covering `day`.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
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
